using Jumpgate.Cli.Fleet;
using Xunit;

namespace Jumpgate.Tests.Fleet;

/// <summary>Real <c>nvidia-smi -q -x</c> captures (tests/Fixtures/nvidia-smi/SOURCES.md says where each comes from).</summary>
public sealed class GpuInventoryTests
{
    private static GpuInventory Read(string fixture) =>
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
        // No capture of one host with two models exists in -q -x form; two real reports stand in for one host.
        var inventory = Read("2x-rtx2080ti-q-x.xml") with
        {
            Gpus = [.. Read("2x-rtx2080ti-q-x.xml").Gpus, Read("mig-a100-q-x.xml").Gpus[0] with { Index = 2 }],
        };

        Assert.Equal([("GeForce RTX 2080 Ti", 2), ("NVIDIA A100-SXM4-40GB", 1)], inventory.ByModel());
    }

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
