using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Onboarding;

/// <summary>The local OpenSSH client's version, as `ssh -V` prints it (OpenSSH_9.2p1 …).</summary>
internal static partial class OpenSshVersion
{
    /// <summary>KnownHostsCommand came in OpenSSH 8.5; an older ssh refuses a whole config that names it.</summary>
    public static readonly Version KnownHostsCommand = new(8, 5);

    /// <summary>The version of the <c>ssh</c> on PATH, or null when there is none or it does not say.</summary>
    public static Version? Installed()
    {
        var start = new ProcessStartInfo("ssh", ["-V"]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        try
        {
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }
            var said = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return Pattern().Match(said) is { Success: true } match
                ? new Version(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture))
                : null;
        }
        catch (Win32Exception)
        {
            return null;
        }
    }

    [GeneratedRegex(@"OpenSSH_(\d+)\.(\d+)")]
    private static partial Regex Pattern();
}
