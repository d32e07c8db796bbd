using Jumpgate.TestSupport;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Fleet;

/// <summary>
/// A lab behind a head node, made of network namespaces: <c>head</c> is joined to this machine, and
/// two hosts are each joined only to <c>head</c>, which routes between them. This machine has no route to either host.
/// Everything is created by the test and removed on dispose.
/// </summary>
internal sealed class FleetNetwork : IAsyncDisposable
{
    private readonly IpCommands _ip;
    private readonly string _tag;
    private readonly int _n;

    private FleetNetwork(ITestOutputHelper? output)
    {
        _ip = new IpCommands(output);
        _n = Random.Shared.Next(1, 250);
        _tag = $"{Environment.ProcessId % 10000}{_n}";
        Head = $"jg-fh-{_tag}";
        Hosts = [$"jg-f1-{_tag}", $"jg-f2-{_tag}"];
    }

    public string Head { get; }

    /// <summary>The hosts' namespaces.</summary>
    public IReadOnlyList<string> Hosts { get; }

    /// <summary>The head node's address on its link to this machine.</summary>
    public string HeadAddress => $"10.215.{_n}.2";

    /// <summary>This machine's end of the link to the head node: a gateway listens here.</summary>
    public string LaptopAddress => $"10.215.{_n}.1";

    /// <summary>Host <paramref name="i"/>'s address, reachable from the head only.</summary>
    public string HostAddress(int i) => $"10.{216 + i}.{_n}.2";

    private string HeadSideAddress(int i) => $"10.{216 + i}.{_n}.1";

    private string HostSubnet(int i) => $"10.{216 + i}.{_n}.0/30";

    public static async Task<FleetNetwork> CreateAsync(ITestOutputHelper? output)
    {
        var network = new FleetNetwork(output);
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
        string laptop = $"jfo{_tag}", head = $"jfh{_tag}";
        await _ip.RunAsync("netns", "add", Head);
        await _ip.LinkAsync(null, laptop, LaptopAddress, Head, head, HeadAddress);
        for (var i = 0; i < Hosts.Count; i++)
        {
            string headSide = $"jfx{i}{_tag}", hostSide = $"jfy{i}{_tag}";
            await _ip.RunAsync("netns", "add", Hosts[i]);
            await _ip.LinkAsync(Head, headSide, HeadSideAddress(i), Hosts[i], hostSide, HostAddress(i));
            // This machine's default route leads out of the sandbox: as from a real laptop, the
            // hosts' subnets are unreachable here, so no packet of the test leaves the machine.
            await _ip.RunAsync("route", "add", "unreachable", HostSubnet(i));
        }
        // The head routes between the hosts, as a lab's switch would: the hosts reach each other
        // directly (mpirun's daemons dial back to it), while this machine still reaches neither.
        await _ip.RunAsync("netns", "exec", Head, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        for (var i = 0; i < Hosts.Count; i++)
        {
            for (var j = 0; j < Hosts.Count; j++)
            {
                if (i != j)
                {
                    await _ip.RunAsync("-n", Hosts[i], "route", "add", HostSubnet(j), "via", HeadSideAddress(i));
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < Hosts.Count; i++)
        {
            await IpCommands.TryAsync("route", "del", "unreachable", HostSubnet(i));
            await IpCommands.TryAsync("netns", "del", Hosts[i]);
        }
        // Deleting a namespace deletes its veth ends, and with them their peers.
        await IpCommands.TryAsync("netns", "del", Head);
    }
}
