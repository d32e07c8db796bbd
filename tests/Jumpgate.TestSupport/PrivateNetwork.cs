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
    private readonly IpCommands _ip;
    private readonly string _tag;

    private PrivateNetwork(ITestOutputHelper? output)
    {
        _ip = new IpCommands(output);
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
        await _ip.RunAsync("netns", "add", Lab);
        await _ip.RunAsync("netns", "add", Gpu);
        await _ip.LinkAsync(null, outside, GatewaySideAddress, Lab, lab, LabAddress);
        await _ip.LinkAsync(Lab, labToGpu, LabGpuSideAddress, Gpu, gpu, GpuAddress);
        // This machine's default route leads out of the sandbox: declare the GPU subnet unreachable
        // here, as it is from a real laptop, so no packet of the test ever leaves the machine.
        await _ip.RunAsync("route", "add", "unreachable", GpuSubnet);
    }

    private string GpuSubnet => GpuAddress[..GpuAddress.LastIndexOf('.')] + ".0/30";

    public async ValueTask DisposeAsync()
    {
        await IpCommands.TryAsync("route", "del", "unreachable", GpuSubnet);
        // Deleting a namespace deletes its veth ends, and with them their peers on this machine.
        await IpCommands.TryAsync("netns", "del", Lab);
        await IpCommands.TryAsync("netns", "del", Gpu);
    }
}
