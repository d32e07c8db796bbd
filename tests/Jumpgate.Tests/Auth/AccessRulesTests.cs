using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Store.Sqlite;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>Rules and groups in a real store, and the policy they make for a user.</summary>
public sealed class AccessRulesTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-rules");


    public void Dispose() => _temp.Dispose();

    private static AccessRule Rule(string subject, string hosts, params string[] services) => new(subject, HostPatterns.Parse(hosts), services);

    [Fact]
    public void ANewStoreLetsEveryoneReachEverything()
    {
        Assert.Equal([Rule("@everyone", "*")], _temp.Store.Rules.List());
        Assert.True(_temp.Access.LoadPolicy("anyone").Allows("node1", "ssh"));
    }

    [Fact]
    public void OpeningTheStoreAgainDoesNotBringBackARevokedDefault()
    {
        _temp.Store.Rules.Revoke(Rule("@everyone", "*"));

        SqliteStore.Open(_temp.Path).Dispose();

        Assert.Empty(_temp.Store.Rules.List());
        Assert.False(_temp.Access.LoadPolicy("anyone").AllowsHost("node1"));
    }

    [Fact]
    public void AGroupRuleAppliesToItsMembersOnly()
    {
        _temp.Store.Rules.Revoke(Rule("@everyone", "*"));
        _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now, ["students"]);
        _temp.Store.Principals.Add(PrincipalKind.User, "bob", null, Now);
        _temp.Store.Rules.Grant(Rule("@students", "node*", "ssh", "jupyter"), Now);

        var alice = _temp.Access.LoadPolicy("alice");
        var bob = _temp.Access.LoadPolicy("bob");

        Assert.True(alice.Allows("node7", "ssh"));
        Assert.True(alice.Allows("node7", "jupyter"));
        Assert.False(alice.Allows("node7", "tensorboard"));
        Assert.False(alice.AllowsHost("lab-pc"));
        Assert.False(bob.AllowsHost("node7"));
        Assert.Equal(["students"], _temp.Store.Principals.List(PrincipalKind.User).Single(u => u.Name == "alice").Groups);
    }

    [Fact]
    public void AUsersOwnRuleAndEveryonesAddUp()
    {
        _temp.Store.Rules.Revoke(Rule("@everyone", "*"));
        _temp.Store.Rules.Grant(Rule("@everyone", "lab-pc", "ssh"), Now);
        _temp.Store.Rules.Grant(Rule("alice", "node1"), Now);

        var alice = _temp.Access.LoadPolicy("alice");

        Assert.True(alice.Allows("lab-pc", "ssh"));
        Assert.False(alice.Allows("lab-pc", "jupyter"));
        Assert.True(alice.Allows("node1", "anything"));
        Assert.Equal("user alice may not reach node2:ssh", alice.Refusal("node2", "ssh"));
    }

    [Fact]
    public void RevokingOneServiceKeepsTheOthersAndRevokingAnUnknownRuleSaysSo()
    {
        _temp.Store.Rules.Grant(Rule("@students", "node*", "ssh", "jupyter"), Now);

        _temp.Store.Rules.Revoke(Rule("@students", "node*", "jupyter"));

        Assert.Contains(Rule("@students", "node*", "ssh"), _temp.Store.Rules.List());
        var unknown = Assert.Throws<InvalidOperationException>(() => _temp.Store.Rules.Revoke(Rule("@staff", "node*")));
        Assert.Contains("there is no rule for @staff on 'node*'", unknown.Message, StringComparison.Ordinal);
        var partOfAll = Assert.Throws<InvalidOperationException>(() => _temp.Store.Rules.Revoke(Rule("@everyone", "*", "ssh")));
        Assert.Contains("may reach every service", partOfAll.Message, StringComparison.Ordinal);
        Assert.Contains(Rule("@everyone", "*"), _temp.Store.Rules.List());
    }

    [Fact]
    public void GrantingTwiceChangesNothing()
    {
        Assert.True(_temp.Store.Rules.Grant(Rule("alice", "node1", "ssh"), Now));
        Assert.False(_temp.Store.Rules.Grant(Rule("alice", "node1", "ssh"), Now));
        Assert.Equal(2, _temp.Store.Rules.List().Count);
    }
}
