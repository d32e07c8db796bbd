using Jumpgate.Core.Protocol;
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
    public void SurvivesReopeningTheFile()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        _temp.Store.Hosts.Replace("lab-a", [new HostAnnouncement { Name = "node1", Services = [new ServiceAnnouncement { Name = "ssh", Port = 22 }] }], Now);
        SqliteConnection.ClearAllPools();

        using var reopened = SqliteStore.Open(_temp.Path);

        Assert.Equal("alice", new AccessCache(reopened.Tokens, reopened.Rules, reopened.Generation).Authenticate(token.ToString(), PrincipalKind.User, Now)?.Name);
        Assert.Equal(["node1"], reopened.Hosts.List().Select(h => h.Name));
    }

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

    [Fact]
    public void EveryWriteThatACacheDependsOnMovesTheGenerationAndNoOtherDoes()
    {
        var generation = _temp.Store.Generation;
        var moves = new List<(string Write, bool Moved)>();
        void Check(string write, Action action)
        {
            var before = generation.Read();
            action();
            moves.Add((write, generation.Read() != before));
        }
        TokenSecret token = null!;

        Check("add user", () => token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now));
        Check("add token", () => _temp.Store.Tokens.Add(PrincipalKind.User, "alice", Now, null));
        Check("group", () => _temp.Store.Principals.AddToGroups("alice", ["gpu"]));
        Check("grant", () => _temp.Store.Rules.Grant(new Gateway.Access.AccessRule("@gpu", Core.Naming.HostPatterns.Parse("node*"), []), Now));
        Check("sign in", () => _temp.Store.WebSessions.Create("alice", token.Id, "gw.example.org", "s1", Now, Now.AddHours(1)));
        Check("sign out", () => _temp.Store.WebSessions.DeleteSignIn("s1"));
        Check("revoke", () => _temp.Store.Tokens.Revoke(token.Id));
        Check("disable", () => _temp.Store.Principals.SetDisabled(PrincipalKind.User, "alice", true));
        Check("hosts", () => _temp.Store.Hosts.Replace("lab-a", [], Now));
        Check("seen", () => _temp.Store.Hosts.MarkSeen("lab-a", Now));
        Check("audit", () => _temp.Store.Audit.Append([new Core.Audit.AuditEvent { Time = Now, Event = "stream", Outcome = "opened" }]));

        Assert.Equal(
            [("add user", true), ("add token", true), ("group", true), ("grant", true), ("sign in", true), ("sign out", true),
             ("revoke", true), ("disable", true), ("hosts", false), ("seen", false), ("audit", false)],
            moves);
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
