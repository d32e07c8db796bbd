using System.Text;

namespace Jumpgate.Cli.Fleet;

/// <summary>
/// A multi-node job: picks N hosts that answer now, copies the MPI hostfile to the first and runs the
/// command there with the variables mpirun and torchrun need. The job runs inside the fleet (mpirun
/// reaches the other hosts over their private addresses with the fleet key); the laptop only starts it
/// and streams its output.
/// </summary>
internal sealed class FleetRun(FleetStore store, TextWriter output, TextWriter errors)
{
    /// <summary>torchrun's own default rendezvous port.</summary>
    public const int DefaultMasterPort = 29500;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The job's exit status; 255 when ssh itself failed, 124 when the job ran past its timeout.</summary>
    public async Task<int> RunAsync(FleetState fleet, string command, int? nodes, int masterPort, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var wanted = nodes ?? fleet.Hosts.Count;
        if (wanted < 1 || wanted > fleet.Hosts.Count)
        {
            throw new Client.CliException($"--nodes {wanted}: fleet {fleet.Name} has {fleet.Hosts.Count} host{(fleet.Hosts.Count == 1 ? "" : "s")}");
        }
        var ssh = new Ssh(store.SshConfig(fleet.Name), store.Folder(fleet.Name));
        var usable = Hostfile.Usable(fleet);
        // Every candidate at once: the first N in the file's order that answer now take part.
        var answers = await Task.WhenAll(usable.Select(h => ssh.ConnectAsync(h.Name, ConnectTimeout, cancellationToken)));
        var picked = usable.Where((_, i) => answers[i] is null).Take(wanted).ToList();
        if (picked.Count < wanted)
        {
            var failures = usable.Zip(answers).ToDictionary(p => p.First.Name, p => p.Second);
            var why = fleet.Hosts.Where(h => !picked.Contains(h)).Select(h => $"  {h.Name}: {WhyLeftOut(h, failures.GetValueOrDefault(h.Name))}");
            throw new Client.CliException($"fleet {fleet.Name} has {picked.Count} host{(picked.Count == 1 ? "" : "s")} ready for a job, {wanted} needed:{Environment.NewLine}{string.Join(Environment.NewLine, why)}");
        }

        var master = picked[0];
        errors.WriteLine($"running on {picked.Count} node{(picked.Count == 1 ? "" : "s")} ({string.Join(", ", picked.Select(h => h.Name))}), started on {master.Name}");
        var gate = new Lock();
        var result = await ssh.ExecAsync(master.Name, RemoteCommand(fleet.Name, picked, masterPort, command), Hostfile.Write(picked), timeout, (line, isError) =>
        {
            lock (gate)
            {
                (isError ? errors : output).WriteLine(line);
            }
        }, cancellationToken);
        if (result.TimedOut)
        {
            errors.WriteLine($"the job ran past --timeout {Core.Config.Durations.Humanize(timeout)}; its ssh client was stopped");
            return 124;
        }
        if (result.ExitCode == 255)
        {
            errors.WriteLine($"exit 255 (ssh's own failure, or the job's) from {master.Name}");
        }
        return result.ExitCode;

    }

    private static string WhyLeftOut(HostState host, string? failureNow) => host switch
    {
        { Reachable: false } => $"unreachable at the last apply ({host.Error})",
        { PeerAccess: false } => "does not hold the fleet key yet; run `jumpgate fleet apply` again",
        { Address: null } => "reported no address the other hosts could reach it at",
        _ => failureNow is null ? "not needed" : $"unreachable now ({failureNow})",
    };

    /// <summary>
    /// The command line the first host's login shell runs: the hostfile (sent on stdin) is written to the
    /// fleet's folder, the job's variables exported, then the user's command, as `ssh HOST CMD` would run it.
    /// </summary>
    public static string RemoteCommand(string fleet, IReadOnlyList<HostState> nodes, int masterPort, string command)
    {
        var folder = PeerAccess.RemoteFolder(fleet);
        var master = Quote(nodes[0].Address!);
        var count = nodes.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.Append($"d=\"{folder}\" && mkdir -p \"$d\" && (umask 077 && cat > \"$d/hostfile\") || {{ echo \"jumpgate: cannot write the MPI hostfile in $d\" >&2; exit 125; }}\n");
        text.Append($"export JUMPGATE_NODES={count} JUMPGATE_NODE_RANK=0 JUMPGATE_MASTER_ADDR={master}");
        // torchrun needs the same number of processes on every node: the smallest host decides.
        text.Append($" JUMPGATE_GPUS_PER_NODE={nodes.Min(Hostfile.Gpus)} JUMPGATE_MPI_HOSTFILE=\"$d/hostfile\"");
        text.Append($" MASTER_ADDR={master} MASTER_PORT={masterPort} NNODES={count} NODE_RANK=0\n");
        text.Append(command);
        return text.ToString();
    }

    /// <summary>Single quotes for a POSIX shell: an address is the fleet file's text, not ours to trust.</summary>
    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
