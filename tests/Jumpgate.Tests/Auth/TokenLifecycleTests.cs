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
        _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        var token = _temp.Store.Tokens.Add(PrincipalKind.User, "alice", Now, Now.AddDays(30));

        Assert.NotNull(_temp.Access.Authenticate(token.ToString(), PrincipalKind.User, Now.AddDays(29)));
        Assert.True(_temp.Access.IsTokenValid(token.Id, Now.AddDays(29)));
        Assert.Null(_temp.Access.Authenticate(token.ToString(), PrincipalKind.User, Now.AddDays(30)));
        Assert.False(_temp.Access.IsTokenValid(token.Id, Now.AddDays(30)));
    }

    [Fact]
    public void ARevokedTokenStopsWhileTheUsersOtherTokensWork()
    {
        var first = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        var second = _temp.Store.Tokens.Add(PrincipalKind.User, "alice", Now, null);

        var row = _temp.Store.Tokens.Revoke(second.Id);

        Assert.True(row.Revoked);
        Assert.Null(_temp.Access.Authenticate(second.ToString(), PrincipalKind.User, Now));
        Assert.NotNull(_temp.Access.Authenticate(first.ToString(), PrincipalKind.User, Now));
        Assert.Throws<InvalidOperationException>(() => _temp.Store.Tokens.Revoke("000000000000"));
    }

    [Fact]
    public void ADisabledPrincipalsTokensAllStopAndWorkAgainWhenEnabled()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", Core.Naming.HostPatterns.Parse("*"), Now);

        _temp.Store.Principals.SetDisabled(PrincipalKind.Agent, "lab-a", true);
        Assert.Null(_temp.Access.Authenticate(token.ToString(), PrincipalKind.Agent, Now));
        Assert.False(_temp.Access.IsTokenValid(token.Id, Now));
        Assert.True(_temp.Store.Principals.List(PrincipalKind.Agent).Single().Disabled);

        _temp.Store.Principals.SetDisabled(PrincipalKind.Agent, "lab-a", false);
        Assert.NotNull(_temp.Access.Authenticate(token.ToString(), PrincipalKind.Agent, Now));
        Assert.Throws<InvalidOperationException>(() => _temp.Store.Principals.SetDisabled(PrincipalKind.User, "nobody", true));
    }

    [Fact]
    public void TheRightSecretOfAStaleTokenIsToldApartFromAGuessInsideTheGatewayOnly()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        var guess = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };
        _temp.Store.Tokens.Revoke(token.Id);

        Assert.Null(_temp.Access.Authenticate(token.ToString(), PrincipalKind.User, Now, out var stale));
        Assert.Equal("alice", stale);
        Assert.Null(_temp.Access.Authenticate(guess.ToString(), PrincipalKind.User, Now, out var guessed));
        Assert.Null(guessed);
    }

    [Fact]
    public void TheTokenListNamesEveryTokenAndHoldsNoSecret()
    {
        var first = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        var second = _temp.Store.Tokens.Add(PrincipalKind.User, "alice", Now, Now.AddHours(12));

        var tokens = _temp.Store.Tokens.List();

        Assert.Equal([first.Id, second.Id], tokens.Select(t => t.Id));
        Assert.Equal(Now.AddHours(12), tokens[1].Expires);
        Assert.DoesNotContain(tokens, t => t.ToString().Contains(first.Secret, StringComparison.Ordinal) || t.ToString().Contains(second.Secret, StringComparison.Ordinal));
        Assert.Throws<InvalidOperationException>(() => _temp.Store.Tokens.Add(PrincipalKind.User, "nobody", Now, null));
    }
}
