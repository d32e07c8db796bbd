using Jumpgate.Cli.Fleet;
using Xunit;

namespace Jumpgate.Tests.Fleet;

/// <summary>`fleet show` and `fleet ls` on real captures: what a user reads about each host's GPUs.</summary>
public sealed class FleetTableTests
{
    private static readonly FleetState Lab = new()
    {
        Name = "lab",
        Source = "/home/me/fleet.yml",
        AppliedAt = DateTimeOffset.UtcNow,
        Hosts =
        [
            new HostState { Name = "dgx", Reachable = true, Gpus = GpuInventoryTests.Read("8x-tesla-v100s-q-x.xml") },
            new HostState { Name = "mixed", Reachable = true, Gpus = GpuInventoryTests.MixedModels() },
            new HostState { Name = "cpu", Reachable = true, Gpus = GpuInventoryTests.Read("no-driver.txt") },
        ],
    };

    private static string[] Show()
    {
        var output = new StringWriter();
        FleetTable.Write(output, Lab);
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public void ShowsAnEightGpuHostAsOneModelWithEachGpusUtilisation()
    {
        var lines = Show();

        Assert.Matches(@"^dgx\s+up\s.*\s8x Tesla V100S-PCIE-32GB$", lines.Single(l => l.StartsWith("dgx", StringComparison.Ordinal)));
        Assert.Contains("8x Tesla V100S-PCIE-32GB, 31.7 GiB each, utilisation 0:97% 1:75% 2:80% 3:23% 4:98% 5:98% 6:91% 7:99% (driver 460.73.01, CUDA 11.2)", lines);
    }

    [Fact]
    public void ShowsMixedModelsOfOneHostAsSeparateGroupsInTheHostsOrder()
    {
        var lines = Show();

        Assert.Matches(@"^mixed\s+up\s.*\s2x GeForce RTX 2080 Ti, 1x NVIDIA A100-SXM4-40GB$", lines.Single(l => l.StartsWith("mixed", StringComparison.Ordinal)));
        var groups = lines.Where(l => l.Contains("(driver 450.102.04", StringComparison.Ordinal)).ToList();
        Assert.Equal(
        [
            "2x GeForce RTX 2080 Ti, 10.8 GiB each, utilisation 0:0% 1:0% (driver 450.102.04, CUDA 11.0)",
            "1x NVIDIA A100-SXM4-40GB, 40 GiB each, utilisation 2:n/a (driver 450.102.04, CUDA 11.0)",
        ], groups);
        Assert.Contains("GPU 2: MIG enabled, 2 MIG devices (19.5 GiB, 19.5 GiB)", lines);
        Assert.Matches(@"^cpu\s+up\s.*\sno NVIDIA driver$", lines.Single(l => l.StartsWith("cpu", StringComparison.Ordinal)));
    }

    [Fact]
    public void ListCountsEveryFleetsGpusByModel()
    {
        var output = new StringWriter();
        FleetTable.WriteList(output, [Lab]);

        Assert.Matches(@"(?m)^lab\s+3\s+3\s+.*\s8x Tesla V100S-PCIE-32GB, 2x GeForce RTX 2080 Ti, 1x NVIDIA A100-SXM4-40GB\r?$", output.ToString());
    }
}
