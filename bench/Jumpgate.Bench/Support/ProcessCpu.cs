using System.Globalization;

namespace Jumpgate.Bench.Support;

/// <summary>
/// CPU time (user and system) that named processes spent over an interval, from /proc/PID/stat:
/// which of Jumpgate's three processes a figure's cost lands in, next to the whole machine's.
/// </summary>
internal sealed class ProcessCpu
{
    private static readonly double MillisecondsPerTick = 1000.0 / sysconf(ClockTicksName);

    private readonly IReadOnlyList<(string Name, IReadOnlyList<int> Pids)> _processes;
    private readonly long[] _start;

    public ProcessCpu(IReadOnlyList<(string Name, IReadOnlyList<int> Pids)> processes)
    {
        _processes = processes;
        _start = [.. processes.Select(p => p.Pids.Sum(Ticks))];
    }

    /// <summary>Milliseconds of CPU each named group spent since this meter was made.</summary>
    public IReadOnlyList<(string Name, double Milliseconds)> Spent() =>
        [.. _processes.Select((p, i) => (p.Name, (p.Pids.Sum(Ticks) - _start[i]) * MillisecondsPerTick))];

    /// <summary>utime + stime, fields 14 and 15 of /proc/PID/stat (counted after the parenthesised command name, which may hold spaces); 0 once the process is gone.</summary>
    private static long Ticks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private const int ClockTicksName = 2; // _SC_CLK_TCK

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern long sysconf(int name);
}
