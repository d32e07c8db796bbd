using System.Diagnostics;
using System.Net;
using Jumpgate.Core.Config;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Hosting;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Postgres;
using Jumpgate.TestSupport;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.Store;

/// <summary>
/// What only PostgreSQL has: a URL in gateway.yaml, a database that may be out of reach or refuse
/// the login, and several gateways that must see each other's changes within the re-check interval.
/// </summary>
public sealed class PostgresStoreTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new("jg-postgres-config");

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData("postgres")]
    [InlineData("postgresql")]
    public void GatewayYamlTakesAPostgresUrlAndShowsItWithoutThePassword(string scheme)
    {
        File.WriteAllText(_directory.File(GatewayOptions.FileName), $"listen: 127.0.0.1:7443\nstore: {scheme}://gw:p%40ss-word@db.example.org:6432/jumpgate\n");

        var options = GatewayOptions.Load(_directory.Path);

        Assert.Null(options.Store.Path);
        Assert.Equal($"{scheme}://gw:***@db.example.org:6432/jumpgate", options.Store.ToString());
        var connection = new NpgsqlConnectionStringBuilder(options.Store.Postgres!.ConnectionString);
        Assert.Equal(("db.example.org", 6432, "jumpgate", "gw", "p@ss-word"), (connection.Host, connection.Port, connection.Database, connection.Username, connection.Password));
    }

    [Fact]
    public void AMalformedStoreUrlNamesFileLineAndField()
    {
        File.WriteAllText(_directory.File(GatewayOptions.FileName), "listen: 127.0.0.1:7443\nstore: postgres://gw:secret-pw@db.example.org\n");

        var error = Assert.Single(Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Errors);

        Assert.Equal(("store", 2), (error.Field, error.Line));
        Assert.Contains("postgres://user:password@host:port/database", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-pw", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void InitWritesTheStoreUrlIntoGatewayYamlReadableByItsOwnerOnly()
    {
        var url = PostgresCluster.Shared.Database("jg-init");
        var dir = _directory.File("gw1");

        GatewayInit.Run(dir, new IPEndPoint(IPAddress.Loopback, 0), "localhost", null, null, url);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, GatewayOptions.FileName)));
        Assert.False(File.Exists(Path.Combine(dir, "gateway.db")));
        var options = GatewayOptions.Load(dir);
        using var store = options.Store.Open(TempStore.RecheckInterval);
        Assert.Equal([AccessRule.Everyone], store.Rules.List().Select(r => r.Subject));
    }

    [Fact]
    public void InitWithAStoreItCannotOpenWritesNothing()
    {
        var dir = _directory.File("gw1");

        var error = Assert.Throws<InvalidOperationException>(() =>
            GatewayInit.Run(dir, new IPEndPoint(IPAddress.Loopback, 0), "localhost", null, null, $"postgres://jumpgate:secret-pw@127.0.0.1:{Sshd.FreePort()}/jumpgate"));

        Assert.DoesNotContain("secret-pw", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }

    [Fact]
    public void ADatabaseNobodyListensOnFailsWithTheUrlMaskedAndTheReason()
    {
        var url = Parse($"postgres://jumpgate:secret-pw@127.0.0.1:{Sshd.FreePort()}/jumpgate");

        var error = Assert.Throws<InvalidOperationException>(() => StoreLocation.PostgreSql(url).Open(TempStore.RecheckInterval).Dispose());

        output.WriteLine(error.Message);
        Assert.Contains(url.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secret-pw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWrongPasswordFailsWithTheDatabasesOwnWords()
    {
        var cluster = PostgresCluster.Shared;
        cluster.Database("jg-wrong-password");
        var url = Parse(cluster.Url("jg_wrong_password", password: "not-the-password"));

        var error = Assert.Throws<InvalidOperationException>(() => StoreLocation.PostgreSql(url).Open(TempStore.RecheckInterval).Dispose());

        output.WriteLine(error.Message);
        Assert.Contains(url.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("password authentication failed", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two gateways on one database: a token revoked through one stops authenticating on the
    /// other within the re-check interval. Prints how long the change took to arrive, and what a
    /// question would cost if it read the generation row instead (the alternative to LISTEN/NOTIFY).
    /// </summary>
    [Fact]
    public void ARevocationThroughOneGatewayIsRefusedByAnotherWithinTheRecheckInterval()
    {
        using var temp = new TempStore(StoreBackend.Postgres, "jg-two-gateways");
        output.WriteLine($"cluster start (initdb, pg_ctl start, role): {PostgresCluster.StartTime.TotalMilliseconds:0} ms");
        var other = temp.OpenAnother();
        var otherAccess = new AccessCache(other.Tokens, other.Rules, other.Generation);
        var seen = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var token = temp.Store.Principals.Add(PrincipalKind.User, $"user{i}", null, Now);
            Assert.NotNull(otherAccess.Authenticate(token.ToString(), PrincipalKind.User, Now));

            var revoked = Stopwatch.StartNew();
            temp.Store.Tokens.Revoke(token.Id);
            while (otherAccess.Authenticate(token.ToString(), PrincipalKind.User, Now) is not null)
            {
                Assert.True(revoked.Elapsed < TempStore.RecheckInterval, "the other gateway still accepts a token revoked a re-check interval ago");
                Thread.Sleep(1);
            }
            seen.Add(revoked.Elapsed.TotalMilliseconds);
        }
        seen.Sort();
        output.WriteLine($"revocation seen by the other gateway after: median {seen[seen.Count / 2]:0.0} ms, slowest {seen[^1]:0.0} ms (20 revocations)");

        const int Reads = 2000;
        var memory = Stopwatch.StartNew();
        for (var i = 0; i < Reads; i++)
        {
            other.Generation.Read();
        }
        memory.Stop();
        using var connection = new NpgsqlConnection(temp.Location.Postgres!.ConnectionString);
        connection.Open();
        using var query = new NpgsqlCommand("SELECT value FROM access_generation WHERE id = 0", connection);
        query.Prepare();
        var polled = Stopwatch.StartNew();
        for (var i = 0; i < Reads; i++)
        {
            query.ExecuteScalar();
        }
        polled.Stop();
        output.WriteLine($"generation read: in memory {memory.Elapsed.TotalMicroseconds / Reads:0.00} µs, a prepared round trip {polled.Elapsed.TotalMicroseconds / Reads:0} µs ({Reads} reads each)");
    }

    private static PostgresUrl Parse(string text) =>
        PostgresUrl.TryParse(text, out var url, out var error) ? url : throw new InvalidOperationException(error);
}
