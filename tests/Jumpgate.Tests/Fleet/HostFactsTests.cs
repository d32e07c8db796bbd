using Jumpgate.Cli.Fleet;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Fleet;

public sealed class HostFactsTests
{
    [Fact]
    public async Task ThisMachinesProbeOutputGivesEveryFact()
    {
        var result = await Command.RunAsync("sh", ["-c", HostFacts.Script], TimeSpan.FromSeconds(30));

        var facts = HostFacts.Parse(result.Stdout);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Environment.MachineName, facts.HostName);
        Assert.Equal(Environment.ProcessorCount, facts.CpuCores);
        Assert.False(string.IsNullOrEmpty(facts.Kernel));
        Assert.False(string.IsNullOrEmpty(facts.CpuModel));
        Assert.InRange(facts.MemoryTotalMib ?? 0, 256, long.MaxValue);
        Assert.InRange(facts.DiskTotalGib ?? -1, 0, long.MaxValue);
    }

    [Fact]
    public void LeavesOutWhatAMinimalHostCannotTell()
    {
        var facts = HostFacts.Parse("""
            hostname=node1
            kernel=6.8.0-45-generic
            cpu_model=AMD EPYC 9554 64-Core Processor
            cpu_cores=128
            mem_kib=1584842752
            disk_kib=1919765744
            disk_free_kib=1021234567
            """);

        Assert.Equal(("node1", "6.8.0-45-generic", "AMD EPYC 9554 64-Core Processor", 128), (facts.HostName, facts.Kernel, facts.CpuModel, facts.CpuCores));
        Assert.Equal((1547698L, 1830L, 973L), (facts.MemoryTotalMib, facts.DiskTotalGib, facts.DiskFreeGib));
        Assert.Null(facts.Os);
        Assert.Null(facts.Python);
    }
}
