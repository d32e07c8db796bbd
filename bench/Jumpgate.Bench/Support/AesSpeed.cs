using System.Globalization;
using System.Text.RegularExpressions;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Support;

/// <summary>
/// What AES-128-GCM (the tunnel legs' cipher) costs on this machine: `openssl speed` with one
/// process per core, in 16 KiB blocks (a full TLS record), through the same libcrypto the relays use.
/// </summary>
internal static partial class AesSpeed
{
    /// <summary>Gigabytes per second that one core encrypts while every core does the same, or NaN if openssl could not say.</summary>
    public static async Task<double> PerCoreGigabytesAsync(int seconds)
    {
        var cores = Environment.ProcessorCount;
        var result = await Command.RunAsync("openssl",
            ["speed", "-evp", "aes-128-gcm", "-bytes", "16384", "-seconds", $"{seconds}", "-multi", $"{cores}"],
            TimeSpan.FromSeconds(seconds + 30));
        // The summary line: "AES-128-GCM   6282881.71k" (thousands of bytes per second, all processes together).
        var match = SummaryLine().Match(result.Stdout);
        return result.ExitCode == 0 && match.Success
            ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * 1e3 / 1e9 / cores
            : double.NaN;
    }

    [GeneratedRegex(@"^AES-128-GCM\s+([0-9.]+)k\s*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex SummaryLine();
}
