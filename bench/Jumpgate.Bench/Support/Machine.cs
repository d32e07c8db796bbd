using System.Runtime.InteropServices;

namespace Jumpgate.Bench.Support;

/// <summary>What the numbers were measured on, for the header of the results.</summary>
internal static class Machine
{
    public static string Describe()
    {
        var model = File.ReadLines("/proc/cpuinfo")
            .FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var memory = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        return $"{Environment.ProcessorCount} cores, {model}, {memory} RAM, load average {load} at start, {RuntimeInformation.OSDescription}";
    }

    public static string Software()
    {
        var ssh = Version("ssh", "-V");
        var iperf = Version("iperf3", "--version").Split('\n')[0];
        return $"jumpgate {Commit()}, .NET {Environment.Version}, {ssh}, {iperf}";
    }

    /// <summary>The commit measured, and whether src/ had uncommitted changes (another engineer's work in progress).</summary>
    private static string Commit()
    {
        try
        {
            var head = TestSupport.Command.RunAsync("git", ["rev-parse", "--short", "HEAD"], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            if (head.ExitCode != 0)
            {
                return "(not a git checkout)";
            }
            var status = TestSupport.Command.RunAsync("git", ["status", "--porcelain", "--", "src"], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            return head.Stdout.Trim() + (status.Stdout.Trim().Length > 0 ? " + uncommitted changes in src/" : "");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            return "(git not found)";
        }
    }

    private static string Version(string program, string argument)
    {
        try
        {
            var result = TestSupport.Command.RunAsync(program, [argument], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            return (result.Stdout + result.Stderr).Trim();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            return $"{program} ?";
        }
    }
}
