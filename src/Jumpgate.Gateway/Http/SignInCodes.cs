using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// What a one-time code lets its bearer do: sign in as this user, on this one service subdomain,
/// as part of sign-in <see cref="SignIn"/> (so signing out of that sign-in ends this session too).
/// </summary>
internal sealed record SignInGrant(string User, string TokenId, string SignIn, string Label, DateTimeOffset Expires);

/// <summary>
/// One-time sign-in codes: how a sign-in on the gateway's own domain (or `jumpgate open`) reaches
/// a service's subdomain, which has its own host-only cookie. A code works once, on one
/// subdomain, for a short time; only its hash is kept, in memory (a restart voids them).
/// </summary>
internal sealed class SignInCodes(TimeProvider time)
{
    /// <summary>More unused codes than this and the oldest are dropped: a flood of minted codes cannot grow memory.</summary>
    private const int MaxPending = 10_000;

    private readonly ConcurrentDictionary<string, SignInGrant> _pending = new(StringComparer.Ordinal);

    public string Mint(string user, string tokenId, string signIn, string label, TimeSpan lifetime)
    {
        var now = time.GetUtcNow();
        if (_pending.Count >= MaxPending)
        {
            foreach (var (key, grant) in _pending.Where(p => p.Value.Expires <= now).ToList())
            {
                _pending.TryRemove(key, out _);
            }
            foreach (var key in _pending.OrderBy(p => p.Value.Expires).Take(_pending.Count - MaxPending + 1).Select(p => p.Key).ToList())
            {
                _pending.TryRemove(key, out _);
            }
        }
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        _pending[Hash(code)] = new SignInGrant(user, tokenId, signIn, label, now + lifetime);
        return code;
    }

    /// <summary>Uses up a code; null if it is unknown, used, expired or meant for another subdomain.</summary>
    public SignInGrant? Redeem(string? code, string label)
    {
        if (code is not { Length: 64 } || !_pending.TryRemove(Hash(code), out var grant))
        {
            return null;
        }
        return grant.Expires > time.GetUtcNow() && grant.Label == label ? grant : null;
    }

    /// <summary>The dictionary key: a hash, so the codes themselves are nowhere in memory dumps longer than a request.</summary>
    private static string Hash(string code) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(code)));
}
