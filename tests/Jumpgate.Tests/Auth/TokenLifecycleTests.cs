using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>Issuing, expiring, revoking and disabling, in a real store.</summary>
public sealed class TokenLifecycleTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-tokens");


    public void Dispose() => _temp.Dispose();

    [Fact]
    public void AnExpiringTokenWorksUntilItsTimeAndNotAfter()
    {
        _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var token = _temp.Store.AddToken(PrincipalKind.User, "alice", Now, Now.AddDays(30));

        Assert.NotNull(_temp.Store.Authenticate(token.ToString(), PrincipalKind.User, Now.AddDays(29)));
        Assert.True(_temp.Store.IsTokenValid(token.Id, Now.AddDays(29)));
        Assert.Null(_temp.Store.Authenticate(token.ToString(), PrincipalKind.User, Now.AddDays(30)));
        Assert.False(_temp.Store.IsTokenValid(token.Id, Now.AddDays(30)));
    }

    [Fact]
    public void ARevokedTokenStopsWhileTheUsersOtherTokensWork()
    {
        var first = _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var second = _temp.Store.AddToken(PrincipalKind.User, "alice", Now, null);

        var row = _temp.Store.RevokeToken(second.Id);

        Assert.True(row.Revoked);
        Assert.Null(_temp.Store.Authenticate(second.ToString(), PrincipalKind.User, Now));
        Assert.NotNull(_temp.Store.Authenticate(first.ToString(), PrincipalKind.User, Now));
        Assert.Throws<InvalidOperationException>(() => _temp.Store.RevokeToken("000000000000"));
    }

    [Fact]
    public void ADisabledPrincipalsTokensAllStopAndWorkAgainWhenEnabled()
    {
        var token = _temp.Store.AddPrincipal(PrincipalKind.Agent, "lab-a", Core.Naming.HostPatterns.Parse("*"), Now);

        _temp.Store.SetDisabled(PrincipalKind.Agent, "lab-a", true);
        Assert.Null(_temp.Store.Authenticate(token.ToString(), PrincipalKind.Agent, Now));
        Assert.False(_temp.Store.IsTokenValid(token.Id, Now));
        Assert.True(_temp.Store.ListPrincipals(PrincipalKind.Agent).Single().Disabled);

        _temp.Store.SetDisabled(PrincipalKind.Agent, "lab-a", false);
        Assert.NotNull(_temp.Store.Authenticate(token.ToString(), PrincipalKind.Agent, Now));
        Assert.Throws<InvalidOperationException>(() => _temp.Store.SetDisabled(PrincipalKind.User, "nobody", true));
    }

    [Fact]
    public void TheRightSecretOfAStaleTokenIsToldApartFromAGuessInsideTheGatewayOnly()
    {
        var token = _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var guess = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };
        _temp.Store.RevokeToken(token.Id);

        Assert.Null(_temp.Store.Authenticate(token.ToString(), PrincipalKind.User, Now, out var stale));
        Assert.Equal("alice", stale);
        Assert.Null(_temp.Store.Authenticate(guess.ToString(), PrincipalKind.User, Now, out var guessed));
        Assert.Null(guessed);
    }

    [Fact]
    public void TheTokenListNamesEveryTokenAndHoldsNoSecret()
    {
        var first = _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var second = _temp.Store.AddToken(PrincipalKind.User, "alice", Now, Now.AddHours(12));

        var tokens = _temp.Store.ListTokens();

        Assert.Equal([first.Id, second.Id], tokens.Select(t => t.Id));
        Assert.Equal(Now.AddHours(12), tokens[1].Expires);
        Assert.DoesNotContain(tokens, t => t.ToString().Contains(first.Secret, StringComparison.Ordinal) || t.ToString().Contains(second.Secret, StringComparison.Ordinal));
        Assert.Throws<InvalidOperationException>(() => _temp.Store.AddToken(PrincipalKind.User, "nobody", Now, null));
    }
}
