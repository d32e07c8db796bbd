using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Store;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>Rules and groups in a real store, and the policy they make for a user.</summary>
public sealed class AccessRulesTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new("jg-rules");
    private readonly GatewayStore _store;

    public AccessRulesTests()
    {
        _store = new GatewayStore(_directory.File("gateway.db"));
        _store.Initialize();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private static AccessRule Rule(string subject, string hosts, params string[] services) => new(subject, HostPatterns.Parse(hosts), services);

    [Fact]
    public void ANewStoreLetsEveryoneReachEverything()
    {
        Assert.Equal([Rule("@everyone", "*")], _store.ListRules());
        Assert.True(_store.LoadPolicy("anyone").Allows("node1", "ssh"));
    }

    [Fact]
    public void OpeningTheStoreAgainDoesNotBringBackARevokedDefault()
    {
        _store.Revoke(Rule("@everyone", "*"));

        _store.Initialize();

        Assert.Empty(_store.ListRules());
        Assert.False(_store.LoadPolicy("anyone").AllowsHost("node1"));
    }

    [Fact]
    public void AGroupRuleAppliesToItsMembersOnly()
    {
        _store.Revoke(Rule("@everyone", "*"));
        _store.AddPrincipal(PrincipalKind.User, "alice", null, Now, ["students"]);
        _store.AddPrincipal(PrincipalKind.User, "bob", null, Now);
        _store.Grant(Rule("@students", "node*", "ssh", "jupyter"), Now);

        var alice = _store.LoadPolicy("alice");
        var bob = _store.LoadPolicy("bob");

        Assert.True(alice.Allows("node7", "ssh"));
        Assert.True(alice.Allows("node7", "jupyter"));
        Assert.False(alice.Allows("node7", "tensorboard"));
        Assert.False(alice.AllowsHost("lab-pc"));
        Assert.False(bob.AllowsHost("node7"));
        Assert.Equal(["students"], _store.ListPrincipals(PrincipalKind.User).Single(u => u.Name == "alice").Groups);
    }

    [Fact]
    public void AUsersOwnRuleAndEveryonesAddUp()
    {
        _store.Revoke(Rule("@everyone", "*"));
        _store.Grant(Rule("@everyone", "lab-pc", "ssh"), Now);
        _store.Grant(Rule("alice", "node1"), Now);

        var alice = _store.LoadPolicy("alice");

        Assert.True(alice.Allows("lab-pc", "ssh"));
        Assert.False(alice.Allows("lab-pc", "jupyter"));
        Assert.True(alice.Allows("node1", "anything"));
        Assert.Equal("user alice may not reach node2:ssh", alice.Refusal("node2", "ssh"));
    }

    [Fact]
    public void RevokingOneServiceKeepsTheOthersAndRevokingAnUnknownRuleSaysSo()
    {
        _store.Grant(Rule("@students", "node*", "ssh", "jupyter"), Now);

        _store.Revoke(Rule("@students", "node*", "jupyter"));

        Assert.Contains(Rule("@students", "node*", "ssh"), _store.ListRules());
        var unknown = Assert.Throws<InvalidOperationException>(() => _store.Revoke(Rule("@staff", "node*")));
        Assert.Contains("there is no rule for @staff on 'node*'", unknown.Message, StringComparison.Ordinal);
        var partOfAll = Assert.Throws<InvalidOperationException>(() => _store.Revoke(Rule("@everyone", "*", "ssh")));
        Assert.Contains("may reach every service", partOfAll.Message, StringComparison.Ordinal);
        Assert.Contains(Rule("@everyone", "*"), _store.ListRules());
    }

    [Fact]
    public void GrantingTwiceChangesNothing()
    {
        Assert.True(_store.Grant(Rule("alice", "node1", "ssh"), Now));
        Assert.False(_store.Grant(Rule("alice", "node1", "ssh"), Now));
        Assert.Equal(2, _store.ListRules().Count);
    }
}
