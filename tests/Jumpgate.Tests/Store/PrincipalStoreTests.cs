using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>Users and agents on each backend (a real SQLite file, a real PostgreSQL database), as the admin commands add and list them.</summary>
public sealed class PrincipalStoreTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ASecondPrincipalWithTheSameNameIsRefused(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-principals");
        temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*"), Now);

        var error = Assert.Throws<InvalidOperationException>(() => temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", null, Now));

        Assert.Contains("lab-a", error.Message, StringComparison.Ordinal);
        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
        Assert.Single(temp.Store.Principals.List(PrincipalKind.Agent));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ListsPrincipalsOfOneKind(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-principals");
        temp.Store.Principals.Add(PrincipalKind.User, "bob", null, Now);
        temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*,lab-pc"), Now);

        var users = temp.Store.Principals.List(PrincipalKind.User);
        var agents = temp.Store.Principals.List(PrincipalKind.Agent);

        Assert.Equal(["alice", "bob"], users.Select(u => u.Name));
        Assert.All(users, u => Assert.False(u.Disabled));
        Assert.Equal(new PrincipalRow("lab-a", PrincipalKind.Agent, "node*,lab-pc", false, Now), Assert.Single(agents));
    }
}
