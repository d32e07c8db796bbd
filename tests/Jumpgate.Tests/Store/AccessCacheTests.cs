using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Store;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>
/// The gateway answers tokens and rules from memory between changes. A second store on the same
/// file stands for an admin command in another process: its changes must apply to the gateway's
/// very next question, as when every question went to the file.
/// </summary>
public sealed class AccessCacheTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-cache");
    private readonly GatewayStore _gateway;
    private readonly GatewayStore _admin;

    public AccessCacheTests()
    {
        _gateway = _temp.Store;
        _admin = new GatewayStore(_temp.Store.Path);
    }

    public void Dispose()
    {
        _admin.Dispose();
        _temp.Dispose();
    }

    private static AccessRule Rule(string subject, string hosts, params string[] services) => new(subject, HostPatterns.Parse(hosts), services);

    [Fact]
    public void ARuleRevokedElsewhereAppliesToTheNextQuestion()
    {
        _admin.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        Assert.True(_gateway.LoadPolicy("alice").Allows("node1", "ssh"));

        _admin.Revoke(Rule("@everyone", "*"));

        Assert.False(_gateway.LoadPolicy("alice").AllowsHost("node1"));
        _admin.Grant(Rule("alice", "node1", "ssh"), Now);
        Assert.True(_gateway.LoadPolicy("alice").Allows("node1", "ssh"));
        Assert.False(_gateway.LoadPolicy("alice").Allows("node1", "jupyter"));
    }

    [Fact]
    public void AGroupChangeElsewhereAppliesToTheNextQuestion()
    {
        _admin.Revoke(Rule("@everyone", "*"));
        _admin.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        _admin.Grant(Rule("@gpu", "node*"), Now);
        Assert.False(_gateway.LoadPolicy("alice").AllowsHost("node1"));

        _admin.AddToGroups("alice", ["gpu"]);
        Assert.True(_gateway.LoadPolicy("alice").AllowsHost("node1"));

        _admin.RemoveFromGroups("alice", ["gpu"]);
        Assert.False(_gateway.LoadPolicy("alice").AllowsHost("node1"));
    }

    [Fact]
    public void ATokenRevokedElsewhereFailsAtOnceThoughItJustAuthenticated()
    {
        var token = _admin.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        _admin.RevokeToken(token.Id);

        Assert.Null(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now, out var stale));
        Assert.Equal("alice", stale);
    }

    [Fact]
    public void AUserDisabledElsewhereFailsAtOnce()
    {
        var token = _admin.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        _admin.SetDisabled(PrincipalKind.User, "alice", disabled: true);

        Assert.Null(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
    }

    [Fact]
    public void AKnownTokenIdWithAnotherSecretIsRefused()
    {
        var token = _admin.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        var forged = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };

        Assert.Null(_gateway.Authenticate(forged.ToString(), PrincipalKind.User, Now));
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
    }

    [Fact]
    public void ATokenThatExpiresIsRefusedFromThenOnWithoutAnyWrite()
    {
        _admin.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var token = _admin.AddToken(PrincipalKind.User, "alice", Now, Now.AddMinutes(5));
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now.AddMinutes(4)));

        Assert.Null(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now.AddMinutes(5), out var stale));
        Assert.Equal("alice", stale);
    }
}
