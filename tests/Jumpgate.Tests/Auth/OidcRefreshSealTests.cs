using Jumpgate.Gateway.Oidc;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>The provider's refresh tokens as the store keeps them: sealed under the client secret, bound to their sign-in's token.</summary>
public sealed class OidcRefreshSealTests
{
    private const string Refresh = "rt-4f1c2a9e7b";

    [Fact]
    public void OpensWhatItSealedAndNothingElse()
    {
        var seal = new OidcRefreshSeal("client-secret-a");
        var kept = seal.Seal("tok1", Refresh);

        Assert.DoesNotContain(Refresh, kept, StringComparison.Ordinal);
        Assert.NotEqual(kept, seal.Seal("tok1", Refresh));
        Assert.Equal(Refresh, seal.Open("tok1", kept));
        Assert.Null(new OidcRefreshSeal("client-secret-b").Open("tok1", kept));
        Assert.Null(seal.Open("tok2", kept));
        Assert.Null(seal.Open("tok1", "not base64 at all"));
        Assert.Null(seal.Open("tok1", Convert.ToBase64String(new byte[8])));
    }
}
