using System.Text;

namespace Jumpgate.Cli.Fleet;

/// <summary>
/// A multi-node job: picks N hosts that answer now, copies the MPI hostfile to the first and runs the
/// command there (or on each node, with its rank) with the variables mpirun and torchrun need. The job runs inside the fleet (mpirun
/// reaches the other hosts over their private addresses with the fleet key); the laptop only starts it
/// and streams its output.
/// </summary>
internal sealed class FleetRun(FleetStore store, TextWriter output, TextWriter errors)
{
    /// <summary>torchrun's own default rendezvous port.</summary>
    public const int DefaultMasterPort = 29500;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs the command on every node at once, each with its own rank (torchrun without MPI), instead
    /// of on the first alone (mpirun, which starts the other ranks itself).
    /// </summary>
    public bool EachNode { get; init; }

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

        var hostfile = Hostfile.Write(picked);
        var width = picked.Max(h => h.Name.Length);
        var gate = new Lock();
        errors.WriteLine(EachNode
            ? $"running on each of {picked.Count} node{(picked.Count == 1 ? "" : "s")} ({string.Join(", ", picked.Select(h => h.Name))})"
            : $"running on {picked.Count} node{(picked.Count == 1 ? "" : "s")} ({string.Join(", ", picked.Select(h => h.Name))}), started on {picked[0].Name}");
        var starts = EachNode ? picked.Count : 1;
        var results = await Task.WhenAll(picked.Take(starts).Select((host, rank) => ssh.ExecAsync(
            host.Name, RemoteCommand(fleet.Name, picked, rank, masterPort, command), hostfile, timeout, (line, isError) =>
            {
                lock (gate)
                {
                    // One node's output is the job's own; several are told apart as `fleet exec` does.
                    (isError ? errors : output).WriteLine(EachNode ? $"{host.Name.PadRight(width)} | {line}" : line);
                }
            }, cancellationToken)));

        for (var rank = 0; rank < results.Length; rank++)
        {
            var (host, result) = (picked[rank].Name, results[rank]);
            if (result.TimedOut)
            {
                errors.WriteLine($"{host}: the job ran past --timeout {Core.Config.Durations.Humanize(timeout)}; its ssh client was stopped");
            }
            else if (result.ExitCode == 255)
            {
                errors.WriteLine($"{host}: exit 255 (ssh's own failure, or the job's)");
            }
            else if (EachNode)
            {
                errors.WriteLine($"{host}: exit {result.ExitCode}");
            }
        }
        // The first node that failed, in rank order, gives the status.
        return results.Select(r => r.TimedOut ? 124 : r.ExitCode).FirstOrDefault(code => code != 0);
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
    public static string RemoteCommand(string fleet, IReadOnlyList<HostState> nodes, int rank, int masterPort, string command)
    {
        var folder = PeerAccess.RemoteFolder(fleet);
        var master = Quote(nodes[0].Address!);
        var count = nodes.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.Append($"d=\"{folder}\" && mkdir -p \"$d\" && (umask 077 && cat > \"$d/hostfile\") || {{ echo \"jumpgate: cannot write the MPI hostfile in $d\" >&2; exit 125; }}\n");
        var nodeRank = rank.ToString(System.Globalization.CultureInfo.InvariantCulture);
        text.Append($"export JUMPGATE_NODES={count} JUMPGATE_NODE_RANK={nodeRank} JUMPGATE_MASTER_ADDR={master}");
        // torchrun needs the same number of processes on every node: the smallest host decides.
        text.Append($" JUMPGATE_GPUS_PER_NODE={nodes.Min(Hostfile.Gpus)} JUMPGATE_MPI_HOSTFILE=\"$d/hostfile\"");
        text.Append($" MASTER_ADDR={master} MASTER_PORT={masterPort} NNODES={count} NODE_RANK={nodeRank}\n");
        text.Append(command);
        return text.ToString();
    }

    /// <summary>Single quotes for a POSIX shell: an address is the fleet file's text, not ours to trust.</summary>
    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
