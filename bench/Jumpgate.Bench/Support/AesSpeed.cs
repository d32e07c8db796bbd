using System.Globalization;
using System.Text.RegularExpressions;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Support;

/// <summary>
/// What AES-128-GCM (the tunnel legs' cipher) costs on this machine: `openssl speed` in one
/// process, in 16 KiB blocks (a full TLS record), through the same libcrypto the relays use. One
/// process, because `openssl speed` times a single process by its CPU time but several (-multi)
/// by the wall clock, which other load on a shared machine would make look slower. One core alone
/// is also the fastest a core gets, so a ceiling computed from it is, if anything, too high.
/// </summary>
internal static partial class AesSpeed
{
    /// <summary>Gigabytes per second of CPU time on one core, or NaN if openssl could not say.</summary>
    public static async Task<double> PerCoreGigabytesAsync(int seconds)
    {
        var result = await Command.RunAsync("openssl",
            ["speed", "-evp", "aes-128-gcm", "-bytes", "16384", "-seconds", $"{seconds}"],
            TimeSpan.FromSeconds(seconds + 30));
        // The summary line: "AES-128-GCM   3952765.61k" (thousands of bytes per second).
        var match = SummaryLine().Match(result.Stdout);
        return result.ExitCode == 0 && match.Success
            ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * 1e3 / 1e9
            : double.NaN;
    }

    [GeneratedRegex(@"^AES-128-GCM\s+([0-9.]+)k\s*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex SummaryLine();
}
