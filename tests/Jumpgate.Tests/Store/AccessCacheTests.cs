using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>
/// The gateway answers tokens and rules from memory between changes. A second store on the same
/// file stands for an admin command in another process (or another gateway): its changes must
/// apply to the gateway's very next question, as when every question went to the file.
/// </summary>
public sealed class AccessCacheTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-cache");
    private readonly AccessCache _gateway;
    private readonly GatewayStores _admin;

    public AccessCacheTests()
    {
        _gateway = _temp.Access;
        _admin = SqliteStore.Open(_temp.Path);
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
        _admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        Assert.True(_gateway.LoadPolicy("alice").Allows("node1", "ssh"));

        _admin.Rules.Revoke(Rule("@everyone", "*"));

        Assert.False(_gateway.LoadPolicy("alice").AllowsHost("node1"));
        _admin.Rules.Grant(Rule("alice", "node1", "ssh"), Now);
        Assert.True(_gateway.LoadPolicy("alice").Allows("node1", "ssh"));
        Assert.False(_gateway.LoadPolicy("alice").Allows("node1", "jupyter"));
    }

    [Fact]
    public void AGroupChangeElsewhereAppliesToTheNextQuestion()
    {
        _admin.Rules.Revoke(Rule("@everyone", "*"));
        _admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        _admin.Rules.Grant(Rule("@gpu", "node*"), Now);
        Assert.False(_gateway.LoadPolicy("alice").AllowsHost("node1"));

        _admin.Principals.AddToGroups("alice", ["gpu"]);
        Assert.True(_gateway.LoadPolicy("alice").AllowsHost("node1"));

        _admin.Principals.RemoveFromGroups("alice", ["gpu"]);
        Assert.False(_gateway.LoadPolicy("alice").AllowsHost("node1"));
    }

    [Fact]
    public void ATokenRevokedElsewhereFailsAtOnceThoughItJustAuthenticated()
    {
        var token = _admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        _admin.Tokens.Revoke(token.Id);

        Assert.Null(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now, out var stale));
        Assert.Equal("alice", stale);
    }

    [Fact]
    public void AUserDisabledElsewhereFailsAtOnce()
    {
        var token = _admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        _admin.Principals.SetDisabled(PrincipalKind.User, "alice", disabled: true);

        Assert.Null(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
    }

    [Fact]
    public void TheMonitorsQuestionSeesARevocationElsewhereThoughTheTokenIsInMemory()
    {
        var token = _admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
        Assert.True(_gateway.IsTokenValid(token.Id, Now));

        _admin.Tokens.Revoke(token.Id);

        Assert.False(_gateway.IsTokenValid(token.Id, Now));
    }

    [Fact]
    public void AKnownTokenIdWithAnotherSecretIsRefused()
    {
        var token = _admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));

        var forged = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };

        Assert.Null(_gateway.Authenticate(forged.ToString(), PrincipalKind.User, Now));
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now));
    }

    [Fact]
    public void ATokenThatExpiresIsRefusedFromThenOnWithoutAnyWrite()
    {
        _admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        var token = _admin.Tokens.Add(PrincipalKind.User, "alice", Now, Now.AddMinutes(5));
        Assert.NotNull(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now.AddMinutes(4)));

        Assert.Null(_gateway.Authenticate(token.ToString(), PrincipalKind.User, Now.AddMinutes(5), out var stale));
        Assert.Equal("alice", stale);
    }
}
