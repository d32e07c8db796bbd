using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>Issuing, expiring, revoking and disabling, in a real store.</summary>
public sealed class TokenLifecycleTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new("jg-tokens");
    private readonly GatewayStore _store;

    public TokenLifecycleTests()
    {
        _store = new GatewayStore(_directory.File("gateway.db"));
        _store.Initialize();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    [Fact]
    public void AnExpiringTokenWorksUntilItsTimeAndNotAfter()
    {
        _store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var token = _store.AddToken(PrincipalKind.User, "alice", Now, Now.AddDays(30));

        Assert.NotNull(_store.Authenticate(token.ToString(), PrincipalKind.User, Now.AddDays(29)));
        Assert.True(_store.IsTokenValid(token.Id, Now.AddDays(29)));
        Assert.Null(_store.Authenticate(token.ToString(), PrincipalKind.User, Now.AddDays(30)));
        Assert.False(_store.IsTokenValid(token.Id, Now.AddDays(30)));
    }

    [Fact]
    public void ARevokedTokenStopsWhileTheUsersOtherTokensWork()
    {
        var first = _store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var second = _store.AddToken(PrincipalKind.User, "alice", Now, null);

        var row = _store.RevokeToken(second.Id);

        Assert.True(row.Revoked);
        Assert.Null(_store.Authenticate(second.ToString(), PrincipalKind.User, Now));
        Assert.NotNull(_store.Authenticate(first.ToString(), PrincipalKind.User, Now));
        Assert.Throws<InvalidOperationException>(() => _store.RevokeToken("000000000000"));
    }

    [Fact]
    public void ADisabledPrincipalsTokensAllStopAndWorkAgainWhenEnabled()
    {
        var token = _store.AddPrincipal(PrincipalKind.Agent, "lab-a", Core.Naming.HostPatterns.Parse("*"), Now);

        _store.SetDisabled(PrincipalKind.Agent, "lab-a", true);
        Assert.Null(_store.Authenticate(token.ToString(), PrincipalKind.Agent, Now));
        Assert.False(_store.IsTokenValid(token.Id, Now));
        Assert.True(_store.ListPrincipals(PrincipalKind.Agent).Single().Disabled);

        _store.SetDisabled(PrincipalKind.Agent, "lab-a", false);
        Assert.NotNull(_store.Authenticate(token.ToString(), PrincipalKind.Agent, Now));
        Assert.Throws<InvalidOperationException>(() => _store.SetDisabled(PrincipalKind.User, "nobody", true));
    }

    [Fact]
    public void TheRightSecretOfAStaleTokenIsToldApartFromAGuessInsideTheGatewayOnly()
    {
        var token = _store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var guess = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };
        _store.RevokeToken(token.Id);

        Assert.Null(_store.Authenticate(token.ToString(), PrincipalKind.User, Now, out var stale));
        Assert.Equal("alice", stale);
        Assert.Null(_store.Authenticate(guess.ToString(), PrincipalKind.User, Now, out var guessed));
        Assert.Null(guessed);
    }

    [Fact]
    public void TheTokenListNamesEveryTokenAndHoldsNoSecret()
    {
        var first = _store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var second = _store.AddToken(PrincipalKind.User, "alice", Now, Now.AddHours(12));

        var tokens = _store.ListTokens();

        Assert.Equal([first.Id, second.Id], tokens.Select(t => t.Id));
        Assert.Equal(Now.AddHours(12), tokens[1].Expires);
        Assert.DoesNotContain(tokens, t => t.ToString().Contains(first.Secret, StringComparison.Ordinal) || t.ToString().Contains(second.Secret, StringComparison.Ordinal));
        Assert.Throws<InvalidOperationException>(() => _store.AddToken(PrincipalKind.User, "nobody", Now, null));
    }
}
