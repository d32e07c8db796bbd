using System.Globalization;

namespace Jumpgate.Cli.Fleet;

/// <summary>A host's facts besides its GPUs, from one run of <see cref="Script"/>.</summary>
internal sealed record HostFacts
{
    public string? HostName { get; init; }
    public string? Os { get; init; }
    public string? Kernel { get; init; }
    public string? CpuModel { get; init; }
    public int? CpuCores { get; init; }
    public long? MemoryTotalMib { get; init; }
    public long? DiskTotalGib { get; init; }
    public long? DiskFreeGib { get; init; }

    /// <summary>python3's version, or null where there is no python3.</summary>
    public string? Python { get; init; }

    /// <summary>The host's own addresses, IPv4 first: where the other hosts of the fleet reach a host the laptop knows only by a Jumpgate name.</summary>
    public IReadOnlyList<string>? Addresses { get; init; }

    /// <summary>
    /// POSIX sh that prints one key=value line per fact; a fact the host cannot give is left out,
    /// so a minimal image (no python3, no /etc/os-release) still answers.
    /// </summary>
    public const string Script = """
        echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
        [ -r /etc/os-release ] && echo "os=$(. /etc/os-release && echo "${PRETTY_NAME:-$NAME}")"
        echo "kernel=$(uname -r)"
        echo "cpu_model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)"
        echo "cpu_cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
        echo "mem_kib=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)"
        df -Pk / 2>/dev/null | awk 'NR == 2 { print "disk_kib=" $2; print "disk_free_kib=" $4 }'
        echo "addresses=$(hostname -I 2>/dev/null || ip -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); printf "%s ", $4 }')"
        command -v python3 >/dev/null 2>&1 && echo "python=$(python3 -c 'import platform; print(platform.python_version())')"
        exit 0
        """;

    public static HostFacts Parse(string output)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.TrimEntries))
        {
            var equals = line.IndexOf('=');
            if (equals > 0 && line.Length > equals + 1)
            {
                values[line[..equals]] = line[(equals + 1)..];
            }
        }
        return new HostFacts
        {
            HostName = values.GetValueOrDefault("hostname"),
            Os = values.GetValueOrDefault("os"),
            Kernel = values.GetValueOrDefault("kernel"),
            CpuModel = values.GetValueOrDefault("cpu_model"),
            CpuCores = (int?)Number(values, "cpu_cores"),
            MemoryTotalMib = Number(values, "mem_kib") / 1024,
            DiskTotalGib = Number(values, "disk_kib") / (1024 * 1024),
            DiskFreeGib = Number(values, "disk_free_kib") / (1024 * 1024),
            Python = values.GetValueOrDefault("python"),
            Addresses = values.GetValueOrDefault("addresses")?.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .OrderBy(a => a.Contains(':', StringComparison.Ordinal)).ToList() is { Count: > 0 } addresses ? addresses : null,
        };
    }

    private static long? Number(Dictionary<string, string> values, string key) =>
        values.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
}
