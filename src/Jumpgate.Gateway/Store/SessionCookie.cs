using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Jumpgate.Gateway.Store;

/// <summary>
/// A session cookie as presented, once its shape is right: <c>id.secret</c>, 16 and 64 lower-case
/// hex digits. Only the secret's SHA-256 is kept, so the secret lives no longer than the request.
/// </summary>
internal sealed record SessionCookie(string Id, byte[] SecretHash)
{
    private const int IdLength = 16;
    private const int SecretLength = 64;

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    /// <summary>False for anything not shaped like a cookie the gateway made, before any hashing or lookup.</summary>
    public static bool TryParse(string? value, out SessionCookie cookie)
    {
        cookie = null!;
        if (value is not { Length: IdLength + 1 + SecretLength } || value[IdLength] != '.'
            || value.AsSpan(0, IdLength).ContainsAnyExcept(LowerHex) || value.AsSpan(IdLength + 1).ContainsAnyExcept(LowerHex))
        {
            return false;
        }
        cookie = new SessionCookie(value[..IdLength], Hash(value[(IdLength + 1)..]));
        return true;
    }

    /// <summary>A fresh id and secret: the cookie value (shown to the browser once) and what the store keeps.</summary>
    public static (string Value, SessionCookie Cookie) Create()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdLength / 2));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretLength / 2));
        return (id + "." + secret, new SessionCookie(id, Hash(secret)));
    }

    /// <summary>Whether <paramref name="stored"/> is this cookie's secret hash, in constant time.</summary>
    public bool Matches(byte[] stored) => CryptographicOperations.FixedTimeEquals(SecretHash, stored);

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.ASCII.GetBytes(secret));
}
