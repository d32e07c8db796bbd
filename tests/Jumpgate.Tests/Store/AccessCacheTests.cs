using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>
/// The gateway answers tokens and rules from memory between changes. A second store on the same
/// file or database stands for an admin command in another process (or another gateway): on
/// SQLite its changes must apply to the gateway's very next question, as when every question went
/// to the file; on PostgreSQL within the re-check interval (<see cref="TempStore.Settle"/>).
/// </summary>
public sealed class AccessCacheTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private static AccessRule Rule(string subject, string hosts, params string[] services) => new(subject, HostPatterns.Parse(hosts), services);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ARuleRevokedElsewhereAppliesToTheNextQuestion(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-cache");
        var (gateway, admin) = (temp.Access, temp.OpenAnother());
        admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Settle(admin);
        Assert.True(gateway.LoadPolicy("alice").Allows("node1", "ssh"));

        admin.Rules.Revoke(Rule("@everyone", "*"));
        temp.Settle(admin);

        Assert.False(gateway.LoadPolicy("alice").AllowsHost("node1"));
        admin.Rules.Grant(Rule("alice", "node1", "ssh"), Now);
        temp.Settle(admin);
        Assert.True(gateway.LoadPolicy("alice").Allows("node1", "ssh"));
        Assert.False(gateway.LoadPolicy("alice").Allows("node1", "jupyter"));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void AGroupChangeElsewhereAppliesToTheNextQuestion(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-cache");
        var (gateway, admin) = (temp.Access, temp.OpenAnother());
        admin.Rules.Revoke(Rule("@everyone", "*"));
        temp.Settle(admin);
        admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Settle(admin);
        admin.Rules.Grant(Rule("@gpu", "node*"), Now);
        temp.Settle(admin);
        Assert.False(gateway.LoadPolicy("alice").AllowsHost("node1"));

        admin.Principals.AddToGroups("alice", ["gpu"]);
        temp.Settle(admin);
        Assert.True(gateway.LoadPolicy("alice").AllowsHost("node1"));

        admin.Principals.RemoveFromGroups("alice", ["gpu"]);
        temp.Settle(admin);
        Assert.False(gateway.LoadPolicy("alice").AllowsHost("node1"));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ATokenRevokedElsewhereFailsAtOnceThoughItJustAuthenticated(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-cache");
        var (gateway, admin) = (temp.Access, temp.OpenAnother());
        var token = admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Settle(admin);
        Assert.NotNull(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        admin.Tokens.Revoke(token.Id);
        temp.Settle(admin);

        Assert.Null(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now, out var stale));
        Assert.Equal("alice", stale);
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void AUserDisabledElsewhereFailsAtOnce(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-cache");
        var (gateway, admin) = (temp.Access, temp.OpenAnother());
        var token = admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Settle(admin);
        Assert.NotNull(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        admin.Principals.SetDisabled(PrincipalKind.User, "alice", disabled: true);
        temp.Settle(admin);

        Assert.Null(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void TheMonitorsQuestionSeesARevocationElsewhereThoughTheTokenIsInMemory(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-cache");
        var (gateway, admin) = (temp.Access, temp.OpenAnother());
        var token = admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Settle(admin);
        Assert.NotNull(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
        Assert.True(gateway.IsTokenValid(token.Id, Now));

        admin.Tokens.Revoke(token.Id);
        temp.Settle(admin);

        Assert.False(gateway.IsTokenValid(token.Id, Now));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void AKnownTokenIdWithAnotherSecretIsRefused(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-cache");
        var (gateway, admin) = (temp.Access, temp.OpenAnother());
        var token = admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Settle(admin);
        Assert.NotNull(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        var forged = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };

        Assert.Null(gateway.Authenticate(forged.ToString(), PrincipalKind.User, Now));
        Assert.NotNull(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ATokenThatExpiresIsRefusedFromThenOnWithoutAnyWrite(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-cache");
        var (gateway, admin) = (temp.Access, temp.OpenAnother());
        admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Settle(admin);
        var token = admin.Tokens.Add(PrincipalKind.User, "alice", Now, Now.AddMinutes(5));
        temp.Settle(admin);
        Assert.NotNull(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now.AddMinutes(4)));

        Assert.Null(gateway.Authenticate(token.ToString(), PrincipalKind.User, Now.AddMinutes(5), out var stale));
        Assert.Equal("alice", stale);
    }
}
