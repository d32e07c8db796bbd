using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Jumpgate.Core.Security;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// The ACME account's ECDSA P-256 key and the JWS (ES256) requests it signs. Kept as PKCS#8 PEM in
/// <c>acme/account.key</c> (mode 0600): a new key would be a new account at the CA.
/// </summary>
internal sealed class AcmeAccountKey : IDisposable
{
    private readonly ECDsa _key;

    private AcmeAccountKey(ECDsa key)
    {
        _key = key;
        var parameters = key.ExportParameters(includePrivateParameters: false);
        // RFC 7638: the thumbprint hashes exactly these members, in this order, without spaces.
        Jwk = $$"""{"crv":"P-256","kty":"EC","x":"{{Base64Url.EncodeToString(parameters.Q.X)}}","y":"{{Base64Url.EncodeToString(parameters.Q.Y)}}"}""";
        Thumbprint = Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(Jwk)));
    }

    /// <summary>The public key as a JSON Web Key, in the canonical form the thumbprint is taken over.</summary>
    public string Jwk { get; }

    /// <summary>The JWK thumbprint, the second half of every key authorization.</summary>
    public string Thumbprint { get; }

    /// <summary>Reads the key at <paramref name="path"/>, or makes one there (mode 0600) when there is none.</summary>
    public static AcmeAccountKey LoadOrCreate(string path)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        if (File.Exists(path))
        {
            key.ImportFromPem(File.ReadAllText(path));
            return new AcmeAccountKey(key);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var writer = new StreamWriter(PrivateFile.CreateNew(path)))
        {
            writer.Write(key.ExportPkcs8PrivateKeyPem());
        }
        return new AcmeAccountKey(key);
    }

    /// <summary>What the CA asks to find at the challenge: the token, a dot, the account key's thumbprint.</summary>
    public string KeyAuthorization(string token) => token + "." + Thumbprint;

    /// <summary>
    /// A flattened JWS of <paramref name="payload"/> (null: POST-as-GET, an empty payload) for
    /// <paramref name="url"/>, naming the key by the account URL (<paramref name="kid"/>) or, before
    /// there is an account, by the key itself.
    /// </summary>
    public byte[] Sign(Uri url, string nonce, string? kid, ReadOnlySpan<byte> payload, bool postAsGet)
    {
        var header = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteString("alg", "ES256");
            if (kid is null)
            {
                json.WritePropertyName("jwk");
                json.WriteRawValue(Jwk);
            }
            else
            {
                json.WriteString("kid", kid);
            }
            json.WriteString("nonce", nonce);
            json.WriteString("url", url.AbsoluteUri);
            json.WriteEndObject();
        }
        var protectedPart = Base64Url.EncodeToString(header.WrittenSpan);
        var payloadPart = postAsGet ? "" : Base64Url.EncodeToString(payload);
        // ES256 signatures are r‖s, 32 bytes each, which is .NET's default (IEEE P1363) format.
        var signature = _key.SignData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), HashAlgorithmName.SHA256);
        var body = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("protected", protectedPart);
            json.WriteString("payload", payloadPart);
            json.WriteString("signature", Base64Url.EncodeToString(signature));
            json.WriteEndObject();
        }
        return body.WrittenSpan.ToArray();
    }

    public void Dispose() => _key.Dispose();
}
