using System.Globalization;

namespace Jumpgate.Bench.Support;

/// <summary>
/// How busy the whole machine was over an interval, in cores (0 to the core count), from
/// /proc/stat: every process counts, the relays, iperf3 and the kernel's work for them alike.
/// </summary>
internal sealed class CpuMeter
{
    private readonly (long Busy, long Total) _start = Read();

    public double CoresBusy()
    {
        var end = Read();
        var total = end.Total - _start.Total;
        return total <= 0 ? double.NaN : (double)(end.Busy - _start.Busy) / total * Environment.ProcessorCount;
    }

    /// <summary>The first line of /proc/stat: user nice system idle iowait irq softirq steal … in clock ticks.</summary>
    private static (long Busy, long Total) Read()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = fields.Sum();
        var idle = fields[3] + fields[4];
        return (total - idle, total);
    }
}
