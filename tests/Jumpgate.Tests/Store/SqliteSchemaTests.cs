using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Sqlite;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>The SQLite file across openings: what it keeps, and files that earlier gateways made.</summary>
public sealed class SqliteSchemaTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-schema");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void SessionsFromBeforeHostsWereRecordedEndAndNewOnesAreBoundToTheirHost()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        using (var connection = new SqliteConnection($"Data Source={_temp.Path}"))
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

        SqliteStore.Open(_temp.Path).Dispose();
        using var store = SqliteStore.Open(_temp.Path);

        Assert.Equal(0L, Scalar("SELECT count(*) FROM web_sessions"));
        var value = store.WebSessions.Create("alice", token.Id, "web--node1.gw.example.org", "signin-1", Now, Now.AddHours(1));
        Assert.True(SessionCookie.TryParse(value, out var cookie));
        var session = store.WebSessions.Find(cookie, Now);
        Assert.Equal(new WebSession(cookie.Id, "alice", token.Id, Now.AddHours(1), "web--node1.gw.example.org", "signin-1"), session);
        Assert.Equal(1, store.WebSessions.DeleteSignIn("signin-1"));
    }

    private long Scalar(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_temp.Path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
