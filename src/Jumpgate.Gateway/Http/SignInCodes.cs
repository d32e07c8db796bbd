using System.Security.Cryptography;
using System.Text;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// One-time sign-in codes: how a sign-in on the gateway's own domain (or `jumpgate open`) reaches
/// a service's subdomain, which has its own host-only cookie. A code works once, on one
/// subdomain, for a short time, on any gateway of the store; the store keeps only its hash.
/// </summary>
internal sealed class SignInCodes(ISignInCodeStore store, TimeProvider time)
{
    public string Mint(string user, string tokenId, string signIn, string label, TimeSpan lifetime)
    {
        var now = time.GetUtcNow();
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        store.Add(Hash(code), new SignInGrant(user, tokenId, signIn, label, now + lifetime), now);
        return code;
    }

    /// <summary>Uses up a code; null if it is unknown, used, expired or meant for another subdomain.</summary>
    public SignInGrant? Redeem(string? code, string label)
    {
        // The shape first: a made-up value of the wrong length costs no hash and no database round trip.
        if (code is not { Length: 64 } || store.Take(Hash(code)) is not { } grant)
        {
            return null;
        }
        // Taken even when refused: a code shown on the wrong subdomain has been seen where it should not be.
        return grant.Expires > time.GetUtcNow() && grant.Label == label ? grant : null;
    }

    private static byte[] Hash(string code) => SHA256.HashData(Encoding.ASCII.GetBytes(code));
}
