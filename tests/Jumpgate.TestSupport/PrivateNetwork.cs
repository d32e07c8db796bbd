using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// A real private network made of network namespaces, as a GPU cluster behind a lab PC:
/// <c>lab</c> (where the agent runs) is joined to this machine by one veth pair, and <c>gpu</c>
/// (where the host runs) is joined only to <c>lab</c>. This machine has no route into <c>gpu</c>.
/// Everything is created by the test and removed on dispose.
/// </summary>
public sealed class PrivateNetwork : IAsyncDisposable
{
    private readonly ITestOutputHelper? _output;
    private readonly string _tag;

    private PrivateNetwork(ITestOutputHelper? output)
    {
        _output = output;
        var n = Random.Shared.Next(1, 250);
        _tag = $"{Environment.ProcessId % 10000}{n}";
        Lab = $"jg-lab-{_tag}";
        Gpu = $"jg-gpu-{_tag}";
        GatewaySideAddress = $"10.213.{n}.1";
        LabAddress = $"10.213.{n}.2";
        LabGpuSideAddress = $"10.214.{n}.1";
        GpuAddress = $"10.214.{n}.2";
    }

    public string Lab { get; }
    public string Gpu { get; }

    /// <summary>This machine's end of the link to the lab: the gateway listens here.</summary>
    public string GatewaySideAddress { get; }
    public string LabAddress { get; }
    public string LabGpuSideAddress { get; }

    /// <summary>The GPU host's address, reachable from the lab only.</summary>
    public string GpuAddress { get; }

    public static async Task<PrivateNetwork> CreateAsync(ITestOutputHelper? output)
    {
        var network = new PrivateNetwork(output);
        try
        {
            await network.SetUpAsync();
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
        return network;
    }

    private async Task SetUpAsync()
    {
        string outside = $"jgo{_tag}", lab = $"jgl{_tag}", labToGpu = $"jgx{_tag}", gpu = $"jgg{_tag}";
        await IpAsync("netns", "add", Lab);
        await IpAsync("netns", "add", Gpu);
        await IpAsync("link", "add", outside, "type", "veth", "peer", "name", lab);
        await IpAsync("link", "set", lab, "netns", Lab);
        await IpAsync("addr", "add", GatewaySideAddress + "/30", "dev", outside);
        await IpAsync("link", "set", outside, "up");
        await IpAsync("-n", Lab, "addr", "add", LabAddress + "/30", "dev", lab);
        await IpAsync("-n", Lab, "link", "set", lab, "up");
        await IpAsync("-n", Lab, "link", "set", "lo", "up");
        await IpAsync("link", "add", labToGpu, "type", "veth", "peer", "name", gpu);
        await IpAsync("link", "set", labToGpu, "netns", Lab);
        await IpAsync("link", "set", gpu, "netns", Gpu);
        await IpAsync("-n", Lab, "addr", "add", LabGpuSideAddress + "/30", "dev", labToGpu);
        await IpAsync("-n", Lab, "link", "set", labToGpu, "up");
        await IpAsync("-n", Gpu, "addr", "add", GpuAddress + "/30", "dev", gpu);
        await IpAsync("-n", Gpu, "link", "set", gpu, "up");
        await IpAsync("-n", Gpu, "link", "set", "lo", "up");
        // This machine's default route leads out of the sandbox: declare the GPU subnet unreachable
        // here, as it is from a real laptop, so no packet of the test ever leaves the machine.
        await IpAsync("route", "add", "unreachable", GpuSubnet);
    }

    private string GpuSubnet => GpuAddress[..GpuAddress.LastIndexOf('.')] + ".0/30";

    private async Task IpAsync(params string[] arguments)
    {
        var result = await Command.RunAsync("ip", arguments, TimeSpan.FromSeconds(30), output: _output);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed (network namespaces need root): {result.Stderr}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Command.RunAsync("ip", ["route", "del", "unreachable", GpuSubnet], TimeSpan.FromSeconds(30));
        // Deleting a namespace deletes its veth ends, and with them their peers on this machine.
        await Command.RunAsync("ip", ["netns", "del", Lab], TimeSpan.FromSeconds(30));
        await Command.RunAsync("ip", ["netns", "del", Gpu], TimeSpan.FromSeconds(30));
    }
}
