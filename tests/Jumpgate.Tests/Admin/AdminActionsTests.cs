using Jumpgate.Core.Api;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Admin;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Sqlite;
using Jumpgate.TestSupport;
using Jumpgate.Tests.Auth;
using Microsoft.Data.Sqlite;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Admin;

/// <summary>The admin actions the API and the local commands share: checks, effects on the store, and one audit event per change.</summary>
public sealed class AdminActionsTests : IDisposable
{
    private readonly TempStore _temp = new("jg-admin");
    private readonly ManualTime _time = new();
    private readonly List<AuditEvent> _audit = [];
    private readonly AdminActions _actions;

    public AdminActionsTests()
    {
        _actions = new AdminActions(_temp.Store, "boss", "10.0.0.9:5000", _audit.Add, _time);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void AnAddedAdminAuthenticatesOnlyAsAnAdmin()
    {
        var token = _actions.Add(PrincipalKind.Admin, new AddPrincipalRequest("alice")).Token;

        Assert.StartsWith("jgx_", token, StringComparison.Ordinal);
        Assert.Equal("alice", _temp.Access.Authenticate(token, PrincipalKind.Admin, _time.GetUtcNow())?.Name);
        Assert.Null(_temp.Access.Authenticate(token, PrincipalKind.User, _time.GetUtcNow()));
        Assert.Null(_temp.Access.Authenticate(token, PrincipalKind.Agent, _time.GetUtcNow()));
        Assert.Equal(["alice"], _actions.List(PrincipalKind.Admin).Select(a => a.Name));
    }

    [Fact]
    public void EveryChangeIsOneAuditEventNamingTheAdminAndWhatChanged()
    {
        _actions.Add(PrincipalKind.User, new AddPrincipalRequest("carol", Groups: ["@students"]));
        _actions.Add(PrincipalKind.Agent, new AddPrincipalRequest("lab-a", Hosts: "node*"));
        _actions.Grant(new RuleRequest("@students", "node*", ["ssh"]));
        _actions.ChangeGroups("carol", ["staff"], add: true);
        _actions.ChangeGroups("carol", ["staff"], add: false);
        var token = _actions.AddToken(new AddTokenRequest("user", "carol", "1d")).Token;
        var id = token.Split('_')[1];
        // The secret is base64url and may itself hold '_', so it is everything after the id, not the third '_' field.
        var secret = token[(token.IndexOf('_', 4) + 1)..];
        Assert.Equal(43, secret.Length);
        _actions.RevokeToken(id);
        _actions.SetDisabled(PrincipalKind.Agent, "lab-a", disabled: true);
        _actions.Revoke(new RuleRequest("@students", "node*", ["ssh"]));
        _actions.Tokens();
        _actions.Rules();

        Assert.Equal(["add_user", "add_agent", "grant", "group_add", "group_remove", "token_add", "token_revoke", "disable", "revoke"], _audit.Select(e => e.Outcome));
        Assert.All(_audit, e =>
        {
            Assert.Equal(AuditEvent.KindAdmin, e.Event);
            Assert.Equal("boss", e.Admin);
            Assert.Equal("10.0.0.9:5000", e.Source);
        });
        Assert.Equal("granted @students 'node*' (ssh)", _audit[2].Reason);
        Assert.Equal($"revoked token {id} of user carol", _audit[6].Reason);
        Assert.DoesNotContain(_audit, e => e.Reason!.Contains(secret, StringComparison.Ordinal));
        Assert.Equal("lab-a", _audit[7].Agent);
    }

    [Fact]
    public void GroupChangesShowInTheUsersListAndInTheirPolicy()
    {
        _actions.Add(PrincipalKind.User, new AddPrincipalRequest("carol"));
        _actions.Grant(new RuleRequest("@gpu", "node1", ["ssh"]));
        _temp.Store.Rules.Revoke(new Gateway.Access.AccessRule("@everyone", Core.Naming.HostPatterns.Parse("*"), []));
        Assert.False(_temp.Access.LoadPolicy("carol").Allows("node1", "ssh"));

        var added = _actions.ChangeGroups("carol", ["gpu", "@staff"], add: true);
        Assert.True(added.Changed);
        Assert.Equal(["gpu", "staff"], _actions.List(PrincipalKind.User).Single().Groups);
        Assert.True(_temp.Access.LoadPolicy("carol").Allows("node1", "ssh"));
        Assert.Equal("carol is in @gpu already", _actions.ChangeGroups("carol", ["gpu"], add: true).Message);

        _actions.ChangeGroups("carol", ["gpu"], add: false);
        Assert.False(_temp.Access.LoadPolicy("carol").Allows("node1", "ssh"));
        Assert.Equal("carol is not in @gpu", _actions.ChangeGroups("carol", ["gpu"], add: false).Message);
    }

    [Theory]
    [InlineData("Bad_Name")]
    [InlineData("")]
    public void BadInputIsRefusedInWordsAndChangesNothing(string name)
    {
        var error = Assert.Throws<InvalidOperationException>(() => _actions.Add(PrincipalKind.User, new AddPrincipalRequest(name)));
        Assert.Contains("is not a valid user name", error.Message);
        Assert.Contains("no user nobody", Assert.Throws<InvalidOperationException>(() => _actions.Grant(new RuleRequest("nobody", "*"))).Message);
        Assert.Contains("no user nobody", Assert.Throws<InvalidOperationException>(() => _actions.ChangeGroups("nobody", ["g"], add: true)).Message);
        Assert.Contains("@everyone already", Assert.Throws<InvalidOperationException>(() => _actions.ChangeGroups("nobody", ["everyone"], add: true)).Message);
        Assert.Contains("none of user, agent or admin", Assert.Throws<InvalidOperationException>(() => _actions.AddToken(new AddTokenRequest("root", "x"))).Message);
        Assert.Contains("only agents have host patterns", Assert.Throws<InvalidOperationException>(() => _actions.Add(PrincipalKind.Admin, new AddPrincipalRequest("a", Hosts: "*"))).Message);
        Assert.Empty(_audit);
    }

    [Fact]
    public void AStoreMadeBeforeAdminsExistedIsMigratedWithItsRowsKept()
    {
        var path = _temp.Directory.File("old.db");
        using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE principals (name TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('user', 'agent')), host_patterns TEXT,
                    disabled INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, PRIMARY KEY (kind, name));
                INSERT INTO principals (name, kind, created) VALUES ('old-user', 'user', '2025-01-01T00:00:00.0000000Z');
                CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, event TEXT NOT NULL, outcome TEXT NOT NULL,
                    user TEXT, agent TEXT, source TEXT, host TEXT, service TEXT, start TEXT, end TEXT, bytes_up INTEGER, bytes_down INTEGER, reason TEXT);
                """;
            command.ExecuteNonQuery();
        }
        using var store = SqliteStore.Open(path);
        var actions = new AdminActions(store, "boss", null, e => store.Audit.Append([e]), _time);

        actions.Add(PrincipalKind.Admin, new AddPrincipalRequest("alice"));

        Assert.Equal(["old-user"], store.Principals.List(PrincipalKind.User).Select(u => u.Name));
        Assert.Equal("boss", Assert.Single(store.Audit.Query(new AuditQuery(Event: AuditEvent.KindAdmin))).Admin);
    }
}
