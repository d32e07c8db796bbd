using System.Buffers.Text;
using System.Security.Cryptography;

namespace Jumpgate.Core.Security;

/// <summary>
/// A bearer token: <c>jgu_</c> (user), <c>jga_</c> (agent) or <c>jgx_</c> (admin), a public 12-hex-digit id the store looks up, <c>_</c>, and a
/// 256-bit secret of which only a SHA-256 hash is stored. The secret is random, so a plain
/// hash is enough: there is nothing to brute-force that a slow hash would protect.
/// </summary>
internal sealed record TokenSecret(PrincipalKind Kind, string Id, string Secret)
{
    private const string UserPrefix = "jgu_";
    private const string AgentPrefix = "jga_";
    private const string AdminPrefix = "jgx_";
    private const int IdBytes = 6;
    private const int SecretBytes = 32;

    public static TokenSecret Create(PrincipalKind kind) => new(
        kind,
        Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdBytes)),
        Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes)));

    /// <summary>Parses a presented token. Fails without saying why: a caller only ever reports "invalid token".</summary>
    public static bool TryParse(string? text, out TokenSecret token)
    {
        token = null!;
        if (text is null || text.Length is < 10 or > 200)
        {
            return false;
        }
        PrincipalKind kind;
        switch (text[..4])
        {
            case UserPrefix:
                kind = PrincipalKind.User;
                break;
            case AgentPrefix:
                kind = PrincipalKind.Agent;
                break;
            case AdminPrefix:
                kind = PrincipalKind.Admin;
                break;
            default:
                return false;
        }
        var rest = text.AsSpan(4);
        var separator = rest.IndexOf('_');
        if (separator != 12 || rest.Length - separator - 1 != 43)
        {
            return false;
        }
        var id = rest[..separator];
        if (!id.ToString().All(IsHex))
        {
            return false;
        }
        token = new TokenSecret(kind, id.ToString(), rest[(separator + 1)..].ToString());
        return true;
    }

    public byte[] SecretHash() => SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(Secret));

    public static bool SecretMatches(TokenSecret presented, byte[] storedHash) =>
        CryptographicOperations.FixedTimeEquals(presented.SecretHash(), storedHash);

    public override string ToString() => $"{Kind switch { PrincipalKind.User => UserPrefix, PrincipalKind.Agent => AgentPrefix, _ => AdminPrefix }}{Id}_{Secret}";

    private static bool IsHex(char c) => c is >= '0' and <= '9' or >= 'a' and <= 'f';
}
