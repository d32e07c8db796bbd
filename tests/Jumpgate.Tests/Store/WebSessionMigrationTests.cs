using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>A store file from before sessions were bound to a host and a sign-in, opened by this gateway.</summary>
public sealed class WebSessionMigrationTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-migrate");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void SessionsFromBeforeHostsWereRecordedEndAndNewOnesAreBoundToTheirHost()
    {
        var token = _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        using (var connection = new SqliteConnection($"Data Source={_temp.Store.Path}"))
        {
            connection.Open();
            using var old = connection.CreateCommand();
            // The table as earlier gateways made it, holding one live session that opened every host.
            old.CommandText = $"""
                DROP TABLE web_sessions;
                CREATE TABLE web_sessions (id TEXT PRIMARY KEY, secret_sha256 BLOB NOT NULL, user TEXT NOT NULL,
                    token_id TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL);
                INSERT INTO web_sessions VALUES ('0123456789abcdef', zeroblob(32), 'alice', '{token.Id}', '2025-11-23T09:00:00.0000000Z', '2025-11-23T21:00:00.0000000Z');
                """;
            old.ExecuteNonQuery();
        }

        using var store = new GatewayStore(_temp.Store.Path);
        store.Initialize();
        store.Initialize();

        Assert.Equal(0L, Scalar("SELECT count(*) FROM web_sessions"));
        var value = store.CreateWebSession("alice", token.Id, "web--node1.gw.example.org", "signin-1", Now, Now.AddHours(1));
        Assert.True(SessionCookie.TryParse(value, out var cookie));
        var session = store.FindWebSession(cookie, Now);
        Assert.Equal(new WebSession(cookie.Id, "alice", token.Id, Now.AddHours(1), "web--node1.gw.example.org", "signin-1"), session);
        Assert.Equal(1, store.DeleteSignIn("signin-1"));
    }

    private long Scalar(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_temp.Store.Path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
