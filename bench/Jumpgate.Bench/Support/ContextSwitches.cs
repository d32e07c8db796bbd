using System.Globalization;

namespace Jumpgate.Bench.Support;

/// <summary>
/// How often processes' threads went to sleep or were taken off a core (the voluntary and
/// involuntary context switches of every thread, /proc/PID/task/*/status), counted from when the
/// meter was made: each wake-up of a thread on a message's path is one, so per message it shows
/// how many thread hand-overs a path makes.
/// </summary>
internal sealed class ContextSwitches
{
    private readonly IReadOnlyList<(string Name, IReadOnlyList<int> Pids)> _processes;
    private readonly long[] _start;

    public ContextSwitches(IReadOnlyList<(string Name, IReadOnlyList<int> Pids)> processes)
    {
        _processes = processes;
        _start = [.. processes.Select(p => p.Pids.Sum(Count))];
    }

    /// <summary>Switches each named group made since this meter was made.</summary>
    public IReadOnlyList<(string Name, long Switches)> Made() =>
        [.. _processes.Select((p, i) => (p.Name, p.Pids.Sum(Count) - _start[i]))];

    /// <summary>Every context switch the machine has made since boot (/proc/stat's ctxt).</summary>
    public static long Machine()
    {
        foreach (var line in File.ReadLines("/proc/stat"))
        {
            if (line.StartsWith("ctxt ", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(5).Trim(), CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>Summed over the process's threads; threads that ended meanwhile are not counted (a process that relays keeps its threads).</summary>
    private static long Count(int pid)
    {
        long total = 0;
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    {
                        if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        {
                            total += long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim(), CultureInfo.InvariantCulture);
                        }
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The thread ended between listing and reading.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process has gone.
        }
        return total;
    }
}
