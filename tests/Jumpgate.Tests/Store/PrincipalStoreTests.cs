using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>Users and agents on a real SQLite file, as the admin commands add and list them.</summary>
public sealed class PrincipalStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-principals");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void ASecondPrincipalWithTheSameNameIsRefused()
    {
        _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*"), Now);

        var error = Assert.Throws<InvalidOperationException>(() => _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", null, Now));

        Assert.Contains("lab-a", error.Message, StringComparison.Ordinal);
        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
        Assert.Single(_temp.Store.Principals.List(PrincipalKind.Agent));
    }

    [Fact]
    public void ListsPrincipalsOfOneKind()
    {
        _temp.Store.Principals.Add(PrincipalKind.User, "bob", null, Now);
        _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*,lab-pc"), Now);

        var users = _temp.Store.Principals.List(PrincipalKind.User);
        var agents = _temp.Store.Principals.List(PrincipalKind.Agent);

        Assert.Equal(["alice", "bob"], users.Select(u => u.Name));
        Assert.All(users, u => Assert.False(u.Disabled));
        Assert.Equal(new PrincipalRow("lab-a", PrincipalKind.Agent, "node*,lab-pc", false, Now), Assert.Single(agents));
    }
}
