using System.Text;

namespace Jumpgate.Cli.Fleet;

/// <summary>An Open MPI hostfile: one line per host, its private address and how many ranks it takes.</summary>
internal static class Hostfile
{
    /// <summary>One rank per GPU; a host without GPUs takes one per core (mpirun's own default), or one when its cores are unknown.</summary>
    public static int Slots(HostState host) =>
        Gpus(host) is > 0 and var gpus ? gpus : host.Facts?.CpuCores is > 0 and var cores ? cores : 1;

    public static int Gpus(HostState host) => host.Gpus is { Status: GpuStatus.Present } inventory ? inventory.Gpus.Count : 0;

    public static string Write(IEnumerable<HostState> hosts)
    {
        var text = new StringBuilder();
        foreach (var host in hosts)
        {
            // A Jumpgate host's address is not its name: the comment says which host a line is.
            var comment = host.Address == host.Name ? "" : $"  # {host.Name}";
            text.Append($"{host.Address} slots={Slots(host)}{comment}\n");
        }
        return text.ToString();
    }

    /// <summary>The hosts a job may use, in the fleet file's order: those that answered the last apply and hold the fleet key.</summary>
    public static IReadOnlyList<HostState> Usable(FleetState fleet) =>
        fleet.Hosts.Where(h => h.Reachable && h.PeerAccess && h.Address is not null).ToList();
}
