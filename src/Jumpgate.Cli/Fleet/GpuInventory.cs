using System.Globalization;
using System.Numerics;
using System.Text.Json.Serialization;
using System.Xml;
using System.Xml.Linq;

namespace Jumpgate.Cli.Fleet;

/// <summary>What a host's GPUs are, from one <c>nvidia-smi -q -x</c>; a host without the tool or the driver says so.</summary>
internal sealed record GpuInventory
{
    public required GpuStatus Status { get; init; }

    /// <summary>Why there are no GPUs to list: nvidia-smi's own words when the driver is not loaded.</summary>
    public string? Detail { get; init; }

    public string? DriverVersion { get; init; }
    public string? CudaVersion { get; init; }
    public IReadOnlyList<Gpu> Gpus { get; init; } = [];

    /// <summary>GPUs by model, in the order the host lists them: mixed models stay apart.</summary>
    public IEnumerable<(string Model, int Count)> ByModel() =>
        Gpus.GroupBy(g => g.Name).Select(g => (g.Key, g.Count()));
}

internal enum GpuStatus
{
    [JsonStringEnumMemberName("present")]
    Present,

    [JsonStringEnumMemberName("no_nvidia_smi")]
    NoNvidiaSmi,

    [JsonStringEnumMemberName("no_driver")]
    NoDriver,
}

internal sealed record Gpu
{
    /// <summary>nvidia-smi's index: the report lists GPUs in index order.</summary>
    public required int Index { get; init; }
    public required string Name { get; init; }
    public required string Uuid { get; init; }
    public string? PciBusId { get; init; }
    public long? MemoryTotalMib { get; init; }
    public long? MemoryUsedMib { get; init; }
    public int? UtilizationPercent { get; init; }
    public int? TemperatureC { get; init; }
    public double? PowerDrawW { get; init; }
    public double? PowerLimitW { get; init; }

    /// <summary>Enabled or Disabled; null where the GPU has no MIG (nvidia-smi's N/A).</summary>
    public string? MigMode { get; init; }
    public IReadOnlyList<MigDevice> MigDevices { get; init; } = [];
}

internal sealed record MigDevice
{
    public required int Index { get; init; }
    public int? GpuInstanceId { get; init; }
    public int? ComputeInstanceId { get; init; }
    public int? Multiprocessors { get; init; }
    public long? MemoryTotalMib { get; init; }
    public long? MemoryUsedMib { get; init; }
}

internal static class NvidiaSmi
{
    /// <summary>The remote command: one call, and a marker instead of an error where the tool is missing.</summary>
    public const string Command = "command -v nvidia-smi >/dev/null 2>&1 || { echo " + MissingMarker + "; exit 0; }; nvidia-smi -q -x";

    public const string MissingMarker = "jumpgate:no-nvidia-smi";

    /// <summary>Reads what <see cref="Command"/> printed (stdout and stderr both; nvidia-smi prints its driver error on stdout).</summary>
    public static GpuInventory Parse(string output)
    {
        var text = output.Trim();
        if (text == MissingMarker)
        {
            return new GpuInventory { Status = GpuStatus.NoNvidiaSmi, Detail = "nvidia-smi is not installed" };
        }
        var start = text.IndexOf("<nvidia_smi_log", StringComparison.Ordinal);
        if (start < 0)
        {
            // Without a loaded driver nvidia-smi prints one sentence and exits 9: that is the host's state, not our error.
            return new GpuInventory { Status = GpuStatus.NoDriver, Detail = FirstLine(text) ?? "nvidia-smi printed nothing" };
        }
        var report = Load(text);
        var gpus = report.Elements("gpu").Select((gpu, index) => ReadGpu(gpu, index)).ToList();
        return new GpuInventory
        {
            Status = GpuStatus.Present,
            DriverVersion = Text(report.Element("driver_version")),
            CudaVersion = Text(report.Element("cuda_version")),
            Gpus = gpus,
        };
    }

    private static XElement Load(string text)
    {
        // The report names a DTD that is not on this machine: ignore it rather than fetch it.
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null };
        using var reader = XmlReader.Create(new StringReader(text), settings);
        try
        {
            return XDocument.Load(reader).Root ?? throw new FormatException("nvidia-smi's report is empty");
        }
        catch (XmlException e)
        {
            throw new FormatException($"nvidia-smi's report is not valid XML ({e.Message})");
        }
    }

    private static Gpu ReadGpu(XElement gpu, int index)
    {
        var power = gpu.Element("gpu_power_readings") ?? gpu.Element("power_readings");
        var migMode = Text(gpu.Element("mig_mode")?.Element("current_mig"));
        return new Gpu
        {
            Index = index,
            Name = Text(gpu.Element("product_name")) ?? "unknown GPU",
            Uuid = Text(gpu.Element("uuid")) ?? "",
            PciBusId = (string?)gpu.Attribute("id"),
            MemoryTotalMib = Number<long>(gpu.Element("fb_memory_usage")?.Element("total")),
            MemoryUsedMib = Number<long>(gpu.Element("fb_memory_usage")?.Element("used")),
            UtilizationPercent = Number<int>(gpu.Element("utilization")?.Element("gpu_util")),
            TemperatureC = Number<int>(gpu.Element("temperature")?.Element("gpu_temp")),
            // Drivers from 530 on report instant and average draw; older ones one power_draw.
            PowerDrawW = Number<double>(power?.Element("instant_power_draw") ?? power?.Element("power_draw")),
            PowerLimitW = Number<double>(power?.Element("current_power_limit") ?? power?.Element("power_limit")),
            MigMode = migMode,
            MigDevices = gpu.Element("mig_devices")?.Elements("mig_device").Select(ReadMig).ToList() ?? [],
        };
    }

    private static MigDevice ReadMig(XElement mig) => new()
    {
        Index = Number<int>(mig.Element("index")) ?? 0,
        GpuInstanceId = Number<int>(mig.Element("gpu_instance_id")),
        ComputeInstanceId = Number<int>(mig.Element("compute_instance_id")),
        Multiprocessors = Number<int>(mig.Element("device_attributes")?.Element("shared")?.Element("multiprocessor_count")),
        MemoryTotalMib = Number<long>(mig.Element("fb_memory_usage")?.Element("total")),
        MemoryUsedMib = Number<long>(mig.Element("fb_memory_usage")?.Element("used")),
    };

    /// <summary>An element's text, or null for nvidia-smi's N/A and its other ways of saying "no value".</summary>
    private static string? Text(XElement? element)
    {
        var value = element?.Value.Trim();
        return value is null or "" or "N/A" or "[N/A]" or "Not Supported" or "[Not Supported]" or "Unknown Error" ? null : value;
    }

    /// <summary>The number in "11019 MiB", "97 %", "66 C" or "232.80 W".</summary>
    private static T? Number<T>(XElement? element) where T : struct, INumber<T>
    {
        var text = Text(element);
        if (text is null)
        {
            return null;
        }
        var space = text.IndexOf(' ');
        return T.TryParse(space < 0 ? text : text[..space], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    private static string? FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
}
