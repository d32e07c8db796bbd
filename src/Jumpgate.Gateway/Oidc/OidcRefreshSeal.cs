using System.Security.Cryptography;
using System.Text;

namespace Jumpgate.Gateway.Oidc;

/// <summary>
/// Seals the provider's refresh tokens before they go into the store: AES-256-GCM under a key
/// derived (HKDF-SHA256) from the OIDC client secret, which lives in a file beside gateway.yaml and
/// never in the store. A copy of the store alone (a backup, a read-only database user) then holds
/// no refresh token it could use, and gateways that share a store and a client secret read each
/// other's. The token's id is the associated data, so a sealed token moved to another row does not open.
/// </summary>
internal sealed class OidcRefreshSeal(string clientSecret)
{
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly byte[] _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(clientSecret), 32,
        salt: [], info: "jumpgate oidc refresh token seal v1"u8.ToArray());

    public string Seal(string tokenId, string refreshToken)
    {
        var plain = Encoding.UTF8.GetBytes(refreshToken);
        var sealedBytes = new byte[NonceSize + TagSize + plain.Length];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(tokenId));
        return Convert.ToBase64String(sealedBytes);
    }

    /// <summary>The refresh token, or null when it was sealed under another client secret (the secret was changed) or altered.</summary>
    public string? Open(string tokenId, string sealedText)
    {
        byte[] sealedBytes;
        try
        {
            sealedBytes = Convert.FromBase64String(sealedText);
        }
        catch (FormatException)
        {
            return null;
        }
        if (sealedBytes.Length < NonceSize + TagSize)
        {
            return null;
        }
        var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        try
        {
            aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), plain, Encoding.UTF8.GetBytes(tokenId));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        return Encoding.UTF8.GetString(plain);
    }
}
