using System.Globalization;

namespace Jumpgate.TestSupport;

/// <summary>What a process the tests started holds in memory, as its <c>/proc/PID/status</c> says, in KiB.</summary>
public static class ProcessMemory
{
    /// <summary>Resident memory now (VmRSS).</summary>
    public static long ResidentKiB(int pid) => StatusKiB(pid, "VmRSS:");

    /// <summary>The most it has been resident since it started or since <see cref="TryResetPeak"/> (VmHWM): catches a peak between two samples.</summary>
    public static long PeakKiB(int pid) => StatusKiB(pid, "VmHWM:");

    /// <summary>Resets the kernel's peak mark (VmHWM) of our own child, so a later <see cref="PeakKiB"/> is what came after; false where /proc does not allow it.</summary>
    public static bool TryResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An older kernel or a restricted /proc: a sampled peak has to stand in.
            return false;
        }
    }

    private static long StatusKiB(int pid, string field) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal))[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
}
