using System.Globalization;

namespace Jumpgate.Bench.Support;

/// <summary>
/// How busy the whole machine was over an interval, in cores (0 to the number of CPUs), from
/// /proc/stat: every process counts, the relays, iperf3 and the kernel's work for them alike.
/// Time the hypervisor gave to other guests (steal) is not counted as busy.
/// </summary>
internal sealed class CpuMeter
{
    private readonly Sample _start = Read();

    public double CoresBusy()
    {
        var end = Read();
        var total = end.Total - _start.Total;
        return total <= 0 ? double.NaN : (double)(end.Busy - _start.Busy) / total * end.Cpus;
    }

    private readonly record struct Sample(long Busy, long Total, int Cpus);

    /// <summary>The "cpu" line (user nice system idle iowait irq softirq steal …, in clock ticks) and how many "cpuN" lines follow it.</summary>
    private static Sample Read()
    {
        var lines = File.ReadAllLines("/proc/stat");
        var fields = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = fields.Sum();
        var notOurs = fields[3] + fields[4] + fields[7];
        var cpus = lines.Count(l => l.StartsWith("cpu", StringComparison.Ordinal) && l.Length > 3 && char.IsAsciiDigit(l[3]));
        return new Sample(total - notOurs, total, cpus);
    }
}
