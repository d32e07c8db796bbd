using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Jumpgate.Core.Security;

/// <summary>
/// A certificate's SHA-256 fingerprint, written as OpenSSH writes key fingerprints
/// (<c>SHA256:</c> and unpadded base64), because the people pinning it know that form.
/// </summary>
internal sealed record Fingerprint
{
    private const string Prefix = "SHA256:";
    private readonly byte[] _hash;

    private Fingerprint(byte[] hash) => _hash = hash;

    public static Fingerprint Of(X509Certificate certificate) => new(SHA256.HashData(certificate.GetRawCertData()));

    public static bool TryParse(string? text, out Fingerprint fingerprint)
    {
        fingerprint = null!;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var value = text.Trim();
        if (value.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            value = value[Prefix.Length..];
        }
        var padded = value.PadRight((value.Length + 3) / 4 * 4, '=');
        var bytes = new byte[48];
        if (!Convert.TryFromBase64String(padded, bytes, out var written) || written != SHA256.HashSizeInBytes)
        {
            return false;
        }
        fingerprint = new Fingerprint(bytes[..written]);
        return true;
    }

    public static Fingerprint Parse(string text) => TryParse(text, out var fingerprint)
        ? fingerprint
        : throw new FormatException("a fingerprint looks like SHA256:<43 base64 characters>, as `jumpgate gateway fingerprint` prints it");

    public bool Matches(X509Certificate? certificate) =>
        certificate is not null && CryptographicOperations.FixedTimeEquals(_hash, SHA256.HashData(certificate.GetRawCertData()));

    public bool Equals(Fingerprint? other) => other is not null && _hash.AsSpan().SequenceEqual(other._hash);

    public override int GetHashCode() => BitConverter.ToInt32(_hash);

    public override string ToString() => Prefix + Convert.ToBase64String(_hash).TrimEnd('=');
}
