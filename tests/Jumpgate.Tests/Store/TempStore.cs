using System.Diagnostics;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Postgres;
using Jumpgate.Gateway.Store.Sqlite;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>The backends every store test runs against.</summary>
public enum StoreBackend
{
    Sqlite,
    Postgres,
}

/// <summary>
/// A fresh, migrated gateway store (a SQLite file in a directory of its own, or a database in the
/// run's PostgreSQL cluster, one per <c>prefix</c>, emptied for each test of the class that
/// uses it), with the gateway's access cache over it; removed on dispose.
/// </summary>
internal sealed class TempStore : IDisposable
{
    /// <summary>The gateway's default; how late another gateway's change may be seen on PostgreSQL.</summary>
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(2);

    private readonly List<GatewayStores> _others = [];

    /// <summary>A SQLite store, for the tests of other parts that need one.</summary>
    public TempStore(string prefix)
        : this(StoreBackend.Sqlite, prefix)
    {
    }

    public TempStore(StoreBackend backend, string prefix)
    {
        var made = true;
        Backend = backend;
        Directory = new TempDirectory(prefix);
        Location = backend == StoreBackend.Sqlite
            ? StoreLocation.Sqlite(Directory.File("gateway.db"))
            : StoreLocation.PostgreSql(Parse(PostgresCluster.Shared.Database(prefix, out made)));
        Store = Location.Open(RecheckInterval);
        if (!made)
        {
            Empty(Location.Postgres!);
        }
        Access = new AccessCache(Store.Tokens, Store.Rules, Store.Generation);
    }

    /// <summary>Both backends, for <c>[MemberData]</c>.</summary>
    public static TheoryData<StoreBackend> Backends => [StoreBackend.Sqlite, StoreBackend.Postgres];

    public StoreBackend Backend { get; }

    public TempDirectory Directory { get; }

    public StoreLocation Location { get; }

    /// <summary>The SQLite file; only for the tests of what SQLite keeps.</summary>
    public string Path => Location.Path ?? throw new InvalidOperationException("a PostgreSQL store has no file");

    public GatewayStores Store { get; }

    /// <summary>What the gateway asks on every stream, answered through the store's generation.</summary>
    public AccessCache Access { get; }

    /// <summary>A second store on the same file or database: an admin command in another process, or another gateway.</summary>
    public GatewayStores OpenAnother()
    {
        var other = Location.Open(RecheckInterval);
        _others.Add(other);
        return other;
    }

    /// <summary>
    /// Waits until this store's generation is the database's, as <paramref name="writer"/> (which
    /// just wrote) reads it: at once on SQLite, within the re-check interval on PostgreSQL (in
    /// practice one notification's way). Returns how long it took.
    /// </summary>
    public TimeSpan Settle(GatewayStores writer)
    {
        var waited = Stopwatch.StartNew();
        var target = writer.Generation.Read();
        while (Store.Generation.Read() < target)
        {
            Assert.True(Backend == StoreBackend.Postgres, "SQLite's generation must apply to the very next question");
            Assert.True(waited.Elapsed < RecheckInterval, $"the change was not seen within the re-check interval ({RecheckInterval.TotalSeconds} s)");
            Thread.Sleep(1);
        }
        return waited.Elapsed;
    }

    public void Dispose()
    {
        foreach (var other in _others)
        {
            other.Dispose();
        }
        Store.Dispose();
        // Pooled connections keep the file open; let go of them before the directory goes.
        SqliteConnection.ClearAllPools();
        Directory.Dispose();
    }

    /// <summary>
    /// Brings a database an earlier test of the class used back to a new store's state: every row
    /// gone but the generation's, and the rule a new store starts with. A truncate takes
    /// milliseconds where dropping the schema and migrating again took up to a second.
    /// </summary>
    private static void Empty(PostgresUrl url)
    {
        using var connection = new NpgsqlConnection(url.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand("""
            TRUNCATE principals, tokens, rules, user_groups, web_sessions, signin_codes, hosts, audit, exposures, host_keys;
            INSERT INTO rules (subject, host_pattern, service, created) VALUES ('@everyone', '*', '*', '2025-01-01T00:00:00.0000000Z');
            """, connection);
        command.ExecuteNonQuery();
    }

    private static PostgresUrl Parse(string url) =>
        PostgresUrl.TryParse(url, out var parsed, out var error) ? parsed : throw new InvalidOperationException(error);
}
