using Jumpgate.Core.Security;
using Xunit;

namespace Jumpgate.Tests.Security;

public sealed class TokenSecretTests
{
    private const string Id = "0123456789ab";
    private const string Secret = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-_"; // 43 base64url characters

    [Theory]
    [InlineData(PrincipalKind.User, "jgu_")]
    [InlineData(PrincipalKind.Agent, "jga_")]
    [InlineData(PrincipalKind.Admin, "jgx_")]
    internal void ACreatedTokenParsesBackToItself(PrincipalKind kind, string prefix)
    {
        var token = TokenSecret.Create(kind);
        var text = token.ToString();

        Assert.StartsWith(prefix, text, StringComparison.Ordinal);
        Assert.Equal(4 + 12 + 1 + 43, text.Length);
        Assert.True(TokenSecret.TryParse(text, out var parsed));
        Assert.Equal(token, parsed);
        Assert.Equal(kind, parsed.Kind);
        Assert.Equal(text, parsed.ToString());
    }

    [Fact]
    public void TwoCreatedTokensDiffer()
    {
        var first = TokenSecret.Create(PrincipalKind.User);
        var second = TokenSecret.Create(PrincipalKind.User);

        Assert.NotEqual(first.Id, second.Id);
        Assert.NotEqual(first.Secret, second.Secret);
    }

    [Theory]
    [InlineData("jgu_" + Id + "_" + Secret, false)]
    [InlineData("jga_" + Id + "_" + Secret, true)]
    public void TheKindComesFromThePrefix(string text, bool agent)
    {
        Assert.True(TokenSecret.TryParse(text, out var token));
        Assert.Equal(agent ? PrincipalKind.Agent : PrincipalKind.User, token.Kind);
        Assert.Equal(Id, token.Id);
        Assert.Equal(Secret, token.Secret);
    }

    public static TheoryData<string?> Malformed => new()
    {
        null,
        "",
        "jgu_",
        "jgz_" + Id + "_" + Secret,
        "JGU_" + Id + "_" + Secret,
        "jg_" + Id + "_" + Secret,
        "jgu" + Id + "_" + Secret,
        " jgu_" + Id + "_" + Secret,
        "jgu_" + Id[..11] + "_" + Secret,
        "jgu_" + Id + "c_" + Secret,
        "jgu_0123456789AB_" + Secret,
        "jgu_0123456789ag_" + Secret,
        "jgu_01234-6789ab_" + Secret,
        "jgu_" + Id + "_" + Secret[..42],
        "jgu_" + Id + "_" + Secret + "x",
        "jgu_" + Id + Secret,
        "jgu_" + Id + "-" + Secret,
        "jgu_" + Id + "_",
        "jgu_" + Id + "_" + Secret + new string('A', 10_000),
        new string('x', 100_000),
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void RejectsAMalformedToken(string? text)
    {
        Assert.False(TokenSecret.TryParse(text, out _));
    }

    [Fact]
    public void TheSecretMatchesItsOwnHashOnly()
    {
        var token = TokenSecret.Create(PrincipalKind.Agent);
        var other = TokenSecret.Create(PrincipalKind.Agent);
        var sameIdOtherSecret = token with { Secret = other.Secret };

        Assert.True(TokenSecret.SecretMatches(token, token.SecretHash()));
        Assert.False(TokenSecret.SecretMatches(token, other.SecretHash()));
        Assert.False(TokenSecret.SecretMatches(sameIdOtherSecret, token.SecretHash()));
        Assert.False(TokenSecret.SecretMatches(token, new byte[32]));
        Assert.False(TokenSecret.SecretMatches(token, []));
    }

    [Fact]
    public void TheStoredHashDoesNotHoldTheSecret()
    {
        var token = TokenSecret.Create(PrincipalKind.User);
        var hash = token.SecretHash();

        Assert.Equal(32, hash.Length);
        Assert.DoesNotContain(token.Secret, Convert.ToBase64String(hash), StringComparison.Ordinal);
    }
}
