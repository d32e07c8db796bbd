using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Fleet;

/// <summary>The fleet's known_hosts as ssh writes it: one <c>NAME TYPE BASE64</c> line per host key.</summary>
internal static partial class KnownHosts
{
    /// <summary>Each host's recorded key as ssh prints a fingerprint: <c>ED25519 SHA256:…</c>.</summary>
    public static IReadOnlyDictionary<string, string> Read(string path)
    {
        var keys = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!File.Exists(path))
        {
            return keys;
        }
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 3 || parts[0].StartsWith('#'))
            {
                continue;
            }
            foreach (var name in parts[0].Split(','))
            {
                keys.TryAdd(name, $"{KeyType(parts[1])} {Fingerprint(parts[2])}");
            }
        }
        return keys;
    }

    /// <summary>The recorded lines of the given names, as ssh wrote them (to hand the hosts each other's keys).</summary>
    public static IReadOnlyList<string> Lines(string path, IReadOnlyCollection<string> names) => File.Exists(path)
        ? File.ReadLines(path)
            .Where(line => line.Split(' ', 2)[0].Split(',').Any(n => names.Contains(n, StringComparer.OrdinalIgnoreCase)))
            .ToList()
        : [];

    /// <summary>OpenSSH's fingerprint: SHA-256 of the key blob, base64 without padding.</summary>
    public static string Fingerprint(string base64Key)
    {
        try
        {
            return "SHA256:" + Convert.ToBase64String(SHA256.HashData(Convert.FromBase64String(base64Key))).TrimEnd('=');
        }
        catch (FormatException)
        {
            return "(unreadable key)";
        }
    }

    /// <summary>The fingerprint ssh says the host sent, from its "host identification has changed" warning.</summary>
    public static string? OfferedFingerprint(string sshError) =>
        SentByRemote().Match(sshError) is { Success: true } match ? match.Groups[1].Value : null;

    private static string KeyType(string type) => type switch
    {
        "ssh-ed25519" => "ED25519",
        "ssh-rsa" => "RSA",
        _ when type.StartsWith("ecdsa", StringComparison.Ordinal) => "ECDSA",
        _ => type,
    };

    [GeneratedRegex(@"sent by the remote host is\s+(SHA256:[A-Za-z0-9+/]+)")]
    private static partial Regex SentByRemote();
}
