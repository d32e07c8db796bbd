using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Jumpgate.Core.Security;

/// <summary>
/// One SSH host public key as a known_hosts line holds it after the host name: its type and its
/// blob in base64 (<c>ssh-ed25519 AAAAC3…</c>). Parsing checks that the blob is base64 and names
/// the same type inside, as OpenSSH's own key format does, so a line the gateway serves cannot
/// carry anything but a key.
/// </summary>
internal sealed record SshHostKey
{
    /// <summary>An RSA key of 16,384 bits is about 2 KiB of blob; nothing real comes near this.</summary>
    private const int MaxBlobBytes = 8 * 1024;

    private SshHostKey(string type, string base64, byte[] blob)
    {
        Type = type;
        Base64 = base64;
        Blob = blob;
    }

    public string Type { get; }

    public string Base64 { get; }

    private byte[] Blob { get; }

    /// <summary>As <c>ssh-keygen -l</c> shows it: SHA256 of the blob, base64 without padding.</summary>
    public string Fingerprint => "SHA256:" + Convert.ToBase64String(SHA256.HashData(Blob)).TrimEnd('=');

    /// <summary>A key with its fingerprint, for logs and listings: <c>ssh-ed25519 SHA256:…</c>.</summary>
    public string Describe() => $"{Type} {Fingerprint}";

    /// <summary>TYPE BASE64, as the agent sends it and the store keeps it.</summary>
    public override string ToString() => $"{Type} {Base64}";

    public static bool TryParse(string? text, out SshHostKey key)
    {
        key = null!;
        var parts = text?.Split(' ') ?? [];
        if (parts.Length != 2 || parts[0].Length is 0 or > 64 || !parts[0].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '@' or '.')
            || parts[1].Length > MaxBlobBytes * 4 / 3 + 4)
        {
            return false;
        }
        var blob = new byte[parts[1].Length];
        if (!Convert.TryFromBase64String(parts[1], blob, out var length) || length < 4)
        {
            return false;
        }
        // The blob starts with its own type as an SSH string: a 4-byte length and the name.
        var named = BinaryPrimitives.ReadUInt32BigEndian(blob);
        if (named != parts[0].Length || length < 4 + named || System.Text.Encoding.ASCII.GetString(blob, 4, (int)named) != parts[0])
        {
            return false;
        }
        key = new SshHostKey(parts[0], parts[1], blob[..length]);
        return true;
    }

    /// <summary>Every key of <paramref name="lines"/>, or null when one of them is not a key; ordered, without repeats.</summary>
    public static IReadOnlyList<SshHostKey>? ParseAll(IEnumerable<string> lines)
    {
        var keys = new SortedDictionary<string, SshHostKey>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            if (!TryParse(line, out var key))
            {
                return null;
            }
            keys[key.ToString()] = key;
        }
        return [.. keys.Values];
    }

    public bool Equals(SshHostKey? other) => other is not null && other.Type == Type && other.Base64 == Base64;

    public override int GetHashCode() => HashCode.Combine(Type, Base64);
}
