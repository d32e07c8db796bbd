using Jumpgate.Core.Config;

namespace Jumpgate.Cli.Fleet;

/// <summary>The human-readable views of fleets: `fleet ls` and `fleet show`.</summary>
internal static class FleetTable
{
    public static void WriteList(TextWriter output, IReadOnlyList<FleetState> fleets)
    {
        output.WriteLine($"{"FLEET",-20} {"HOSTS",-6} {"REACHABLE",-10} {"APPLIED",-16} GPUS");
        foreach (var fleet in fleets)
        {
            var gpus = GpusByModel(fleet.Hosts.Where(h => h.Gpus is not null).SelectMany(h => h.Gpus!.Gpus));
            output.WriteLine($"{fleet.Name,-20} {fleet.Hosts.Count,-6} {fleet.Hosts.Count(h => h.Reachable),-10} {Ago(fleet.AppliedAt),-16} {(gpus.Length == 0 ? "-" : gpus)}");
        }
    }

    public static void Write(TextWriter output, FleetState fleet)
    {
        var via = fleet.ProxyJump is null ? "" : $", through head node {fleet.ProxyJump}";
        output.WriteLine($"fleet {fleet.Name}: {fleet.Hosts.Count(h => h.Reachable)} of {fleet.Hosts.Count} hosts reachable{via} (applied {Ago(fleet.AppliedAt)} from {fleet.Source})");
        var width = Math.Max(4, fleet.Hosts.Max(h => h.Name.Length));
        output.WriteLine($"{"HOST".PadRight(width)}  {"STATUS",-12} {"OS",-22} {"CPU",-10} {"MEMORY",-9} {"DISK",-14} {"PYTHON",-8} GPUS");
        foreach (var host in fleet.Hosts)
        {
            var facts = host.Facts;
            var status = host.Reachable ? "up" : "unreachable";
            output.WriteLine($"{host.Name.PadRight(width)}  {status,-12} {Cut(facts?.Os, 22),-22} {Cores(facts),-10} {Gib(facts?.MemoryTotalMib),-9} {Disk(facts),-14} {facts?.Python ?? "-",-8} {Gpus(host.Gpus)}");
            if (!host.Reachable)
            {
                var last = host.LastSuccess is { } success ? $"last answered {Ago(success)}" : "never answered";
                output.WriteLine($"{"".PadRight(width)}  {host.Error} ({last})");
            }
            else if (host.Error is not null)
            {
                output.WriteLine($"{"".PadRight(width)}  {host.Error}");
            }
            if (host.Gpus is { Status: GpuStatus.Present } inventory)
            {
                foreach (var group in inventory.Gpus.GroupBy(g => g.Name))
                {
                    var used = string.Join(" ", group.Select(g => g.UtilizationPercent is { } percent ? $"{g.Index}:{percent}%" : $"{g.Index}:n/a"));
                    var memory = group.First().MemoryTotalMib is { } mib ? $", {mib / 1024.0:0.#} GiB each" : "";
                    output.WriteLine($"{"".PadRight(width)}  {group.Count()}x {group.Key}{memory}, utilisation {used} (driver {inventory.DriverVersion}, CUDA {inventory.CudaVersion})");
                    foreach (var gpu in group.Where(g => g.MigMode == "Enabled"))
                    {
                        output.WriteLine($"{"".PadRight(width)}    GPU {gpu.Index}: MIG enabled, {gpu.MigDevices.Count} MIG device{(gpu.MigDevices.Count == 1 ? "" : "s")} ({string.Join(", ", gpu.MigDevices.Select(m => $"{(m.MemoryTotalMib ?? 0) / 1024.0:0.#} GiB"))})");
                    }
                }
            }
        }
    }

    private static string Gpus(GpuInventory? inventory) => inventory switch
    {
        null => "-",
        { Status: GpuStatus.NoNvidiaSmi } => "no nvidia-smi",
        { Status: GpuStatus.NoDriver } => "no NVIDIA driver",
        _ => GpusByModel(inventory.Gpus) is { Length: > 0 } text ? text : "none",
    };

    private static string GpusByModel(IEnumerable<Gpu> gpus) =>
        string.Join(", ", gpus.GroupBy(g => g.Name).Select(g => $"{g.Count()}x {g.Key}"));

    private static string Cores(HostFacts? facts) => facts?.CpuCores is { } cores ? $"{cores} cores" : "-";

    private static string Gib(long? mib) => mib is { } value ? $"{value / 1024.0:0.#} GiB" : "-";

    private static string Disk(HostFacts? facts) =>
        facts?.DiskTotalGib is { } total ? $"{facts.DiskFreeGib ?? 0}/{total} GiB" : "-";

    private static string Cut(string? text, int width) => text is null ? "-" : text.Length <= width ? text : text[..(width - 1)] + "…";

    private static string Ago(DateTimeOffset when) => Durations.Humanize(DateTimeOffset.UtcNow - when) + " ago";
}
