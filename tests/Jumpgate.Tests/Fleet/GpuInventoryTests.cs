using Jumpgate.Cli.Fleet;
using Xunit;

namespace Jumpgate.Tests.Fleet;

/// <summary>Real <c>nvidia-smi -q -x</c> captures (tests/Fixtures/nvidia-smi/SOURCES.md says where each comes from).</summary>
public sealed class GpuInventoryTests
{
    internal static GpuInventory Read(string fixture) =>
        NvidiaSmi.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "nvidia-smi", fixture)));

    [Fact]
    public void ReadsOneGpuWithEveryField()
    {
        var inventory = Read("1x-rtx3060-q-x.xml");

        Assert.Equal((GpuStatus.Present, "570.124.04", "12.8"), (inventory.Status, inventory.DriverVersion, inventory.CudaVersion));
        var gpu = Assert.Single(inventory.Gpus);
        Assert.Equal(0, gpu.Index);
        Assert.Equal("NVIDIA GeForce RTX 3060", gpu.Name);
        Assert.Equal("GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625", gpu.Uuid);
        Assert.Equal((12288L, 116L), (gpu.MemoryTotalMib, gpu.MemoryUsedMib));
        Assert.Equal((0, 42), (gpu.UtilizationPercent, gpu.TemperatureC));
        Assert.Equal((11.63, 170.0), (gpu.PowerDrawW, gpu.PowerLimitW));
        Assert.Null(gpu.MigMode);
        Assert.Empty(gpu.MigDevices);
    }

    [Fact]
    public void ReadsTheOlderSchemasSinglePowerDraw()
    {
        var gpu = Assert.Single(Read("1x-tesla-p100-q-x.xml").Gpus);

        Assert.Equal(("Tesla P100-PCIE-16GB", 38, 26.16), (gpu.Name, gpu.TemperatureC, gpu.PowerDrawW));
    }

    [Fact]
    public void ReadsEveryGpuOfAHostSeparately()
    {
        var inventory = Read("2x-rtx2080ti-q-x.xml");

        Assert.Equal([0, 1], inventory.Gpus.Select(g => g.Index));
        Assert.Equal(["GPU-a51f7ab3-17a7-b7c3-4d17-b9bcef123731", "GPU-32bd22dc-de8c-31e4-6d46-0068d910a189"], inventory.Gpus.Select(g => g.Uuid));
        Assert.Equal(["00000000:17:00.0", "00000000:65:00.0"], inventory.Gpus.Select(g => g.PciBusId));
        Assert.Equal([74.68, 16.02], inventory.Gpus.Select(g => g.PowerDrawW));
        Assert.Equal([("GeForce RTX 2080 Ti", 2)], inventory.ByModel());
    }

    [Fact]
    public void ReadsEveryGpuOfAnEightGpuServer()
    {
        var inventory = Read("8x-tesla-v100s-q-x.xml");

        Assert.Equal((GpuStatus.Present, "460.73.01", "11.2"), (inventory.Status, inventory.DriverVersion, inventory.CudaVersion));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], inventory.Gpus.Select(g => g.Index));
        Assert.Equal([("Tesla V100S-PCIE-32GB", 8)], inventory.ByModel());
        Assert.Equal(
        [
            "GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e", "GPU-bbf7a241-bf9a-eb90-b2fb-d213294faf48",
            "GPU-8f75e71c-23dd-a060-d997-4caf592954db", "GPU-3181eb56-505c-8214-ba05-c132f68f89b8",
            "GPU-2aa87d54-d4ff-2900-812b-1a4b7e119583", "GPU-39c3a168-9034-0b5a-223a-1042f30a9242",
            "GPU-d2446f91-171e-1b54-515d-9d9b03484ddf", "GPU-1d955959-c95b-4f40-2cac-100d3006ffe2",
        ], inventory.Gpus.Select(g => g.Uuid));
        Assert.Equal(["00000000:00:0D.0", "00000000:00:0E.0", "00000000:00:0F.0", "00000000:00:10.0",
            "00000000:00:11.0", "00000000:00:12.0", "00000000:00:13.0", "00000000:00:14.0"], inventory.Gpus.Select(g => g.PciBusId));
        Assert.All(inventory.Gpus, g => Assert.Equal((32510L, 250.0), (g.MemoryTotalMib, g.PowerLimitW)));
        // Each GPU's own readings, not its neighbour's nor those of the processes listed under it.
        Assert.Equal([31689L, 29545L, 29539L, 32099L, 29517L, 32141L, 32157L, 29501L], inventory.Gpus.Select(g => g.MemoryUsedMib ?? -1));
        Assert.Equal([97, 75, 80, 23, 98, 98, 91, 99], inventory.Gpus.Select(g => g.UtilizationPercent ?? -1));
        Assert.Equal([66, 58, 57, 61, 59, 64, 61, 57], inventory.Gpus.Select(g => g.TemperatureC ?? -1));
        Assert.Equal([232.80, 152.03, 67.57, 198.41, 117.99, 85.80, 68.14, 61.47], inventory.Gpus.Select(g => g.PowerDrawW ?? -1));
        Assert.All(inventory.Gpus, g => Assert.Equal((null, 0), (g.MigMode, g.MigDevices.Count)));
    }

    [Fact]
    public void ReadsMigModeAndItsDevices()
    {
        var gpu = Assert.Single(Read("mig-a100-q-x.xml").Gpus);

        Assert.Equal(("NVIDIA A100-SXM4-40GB", "Enabled"), (gpu.Name, gpu.MigMode));
        Assert.Equal([(0, 1, 42, 19968L), (1, 2, 42, 19968L)],
            gpu.MigDevices.Select(m => (m.Index, m.GpuInstanceId ?? -1, m.Multiprocessors ?? -1, m.MemoryTotalMib ?? -1)));
    }

    [Fact]
    public void KeepsMixedModelsApartInTheOrderTheHostListsThem()
    {
        Assert.Equal([("GeForce RTX 2080 Ti", 2), ("NVIDIA A100-SXM4-40GB", 1)], MixedModels().ByModel());
    }

    /// <summary>
    /// No public -q -x capture of one host with two models was found; two real reports stand in for one
    /// host: the two RTX 2080 Ti, then the MIG A100 as GPU 2.
    /// </summary>
    internal static GpuInventory MixedModels() => Read("2x-rtx2080ti-q-x.xml") with
    {
        Gpus = [.. Read("2x-rtx2080ti-q-x.xml").Gpus, Read("mig-a100-q-x.xml").Gpus[0] with { Index = 2 }],
    };

    [Fact]
    public void ReportsAHostWithoutADriverAsSuch()
    {
        var inventory = Read("no-driver.txt");

        Assert.Equal(GpuStatus.NoDriver, inventory.Status);
        Assert.StartsWith("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", inventory.Detail);
        Assert.Empty(inventory.Gpus);
    }

    [Fact]
    public void ReportsAHostWithoutNvidiaSmiAsSuch()
    {
        var inventory = NvidiaSmi.Parse(NvidiaSmi.MissingMarker + "\n");

        Assert.Equal((GpuStatus.NoNvidiaSmi, "nvidia-smi is not installed"), (inventory.Status, inventory.Detail));
    }
}
