namespace Jumpgate.Cli.Fleet;

/// <summary>
/// Applies a fleet file: writes the fleet's ssh config, reaches every host in parallel (through the
/// head node first when there is one), records each host's facts and GPUs, installs on each the fleet
/// key and an ssh config naming the other hosts (<see cref="PeerAccess"/>), and stores the result.
/// A host that does not answer keeps what it said last, marked unreachable with the reason.
/// </summary>
internal sealed class FleetApply(FleetStore store, TextWriter output, TimeProvider time)
{
    /// <summary>Per step: a connection through a head node and a proxy may take a few round trips, nvidia-smi a few seconds on 8 GPUs.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public bool Strict { get; init; }

    public bool Live { get; init; }

    public async Task<FleetState> RunAsync(FleetSpec fleet, string source, CancellationToken cancellationToken)
    {
        var previous = store.Find(fleet.Name);
        var folder = store.Prepare(fleet.Name);
        var knownHostsPath = store.KnownHosts(fleet.Name);
        store.WriteText(store.SshConfig(fleet.Name), SshConfig.Write(fleet, store.SshConfig(fleet.Name), knownHostsPath, store.ControlFolder(fleet.Name), Strict, StepTimeout));
        var ssh = new Ssh(store.SshConfig(fleet.Name), folder);
        var knownBefore = KnownHosts.Read(knownHostsPath);

        var names = fleet.Hosts.Select(h => h.Name).ToList();
        if (fleet.ProxyJump is not null)
        {
            names.Insert(0, $"{fleet.ProxyJump.HostName} (head)");
        }
        string? headError = null;
        HostState[] hosts;
        await using (var board = new ProgressBoard(names, output, Live))
        {
            if (fleet.ProxyJump is { } head)
            {
                var label = names[0];
                board.Step(label, head.ThroughGateway ? "connecting through the gateway" : "connecting");
                headError = await ssh.ConnectAsync(SshConfig.HeadAlias, StepTimeout, cancellationToken);
                headError = headError is null ? null : ExplainKey(headError, SshConfig.HeadAlias, knownBefore, knownHostsPath);
                board.Done(label, headError is null ? "connected" : "unreachable");
            }
            hosts = await Task.WhenAll(fleet.Hosts.Select(host => ProbeAsync(
                fleet, host, previous?.Hosts.FirstOrDefault(h => h.Name == host.Name), headError, ssh, board, knownBefore, knownHostsPath, cancellationToken)));
            // Only now are every host's key and address known, and each host's config names all of them.
            hosts = await InstallPeerAccessAsync(fleet.Name, hosts, ssh, board, knownHostsPath, cancellationToken);
        }

        var knownAfter = KnownHosts.Read(knownHostsPath);
        foreach (var (name, key) in knownAfter.Where(k => !knownBefore.ContainsKey(k.Key)).OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            var shown = name == SshConfig.HeadAlias ? $"{fleet.ProxyJump?.HostName} (head)" : name;
            output.WriteLine($"{shown}: first contact, recorded its {key} in {knownHostsPath} (accept-new; --strict refuses hosts with no recorded key)");
        }
        if (headError is not null)
        {
            output.WriteLine($"head node {fleet.ProxyJump!.HostName}: {headError}");
        }
        var state = new FleetState
        {
            Name = fleet.Name,
            Placement = fleet.Placement,
            Source = source,
            AppliedAt = time.GetUtcNow(),
            ProxyJump = fleet.ProxyJump?.HostName,
            Hosts = [.. hosts.Select(h => h with { HostKey = knownAfter.GetValueOrDefault(h.Name) ?? h.HostKey })],
        };
        store.Save(state);
        return state;
    }

    private async Task<HostState> ProbeAsync(
        FleetSpec fleet, FleetHostSpec host, HostState? previous, string? headError, Ssh ssh, ProgressBoard board,
        IReadOnlyDictionary<string, string> knownBefore, string knownHostsPath, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var state = new HostState
        {
            Name = host.Name,
            User = host.Ssh.User,
            Port = host.Ssh.Port,
            Blocks = host.Blocks,
            ThroughGateway = host.Ssh.ThroughGateway,
            ThroughProxyJump = fleet.ProxyJump is not null && !host.Ssh.ThroughGateway,
            LastProbe = now,
            LastSuccess = previous?.LastSuccess,
            HostKey = previous?.HostKey,
            Facts = previous?.Facts,
            Gpus = previous?.Gpus,
            Address = previous?.Address,
            PeerAccess = previous?.PeerAccess ?? false,
        };
        if (state.ThroughProxyJump && headError is not null)
        {
            board.Done(host.Name, "unreachable (head node)");
            return state with { Reachable = false, Error = $"the head node {fleet.ProxyJump!.HostName} is unreachable: {headError}" };
        }

        board.Step(host.Name, state.ThroughGateway ? "connecting through the gateway" : state.ThroughProxyJump ? "connecting through the head node" : "connecting");
        var error = await ssh.ConnectAsync(host.Name, StepTimeout, cancellationToken);
        if (error is not null)
        {
            board.Done(host.Name, "unreachable");
            return state with { Reachable = false, Error = ExplainKey(error, host.Name, knownBefore, knownHostsPath) };
        }

        board.Step(host.Name, "host facts");
        var facts = await ssh.ExecAsync(host.Name, "sh -s", HostFacts.Script, StepTimeout, onLine: null, cancellationToken);
        if (facts.SshFailed)
        {
            board.Done(host.Name, "unreachable");
            return state with { Reachable = false, Error = StepError("reading host facts", facts) };
        }

        board.Step(host.Name, "GPUs (nvidia-smi -q -x)");
        var gpus = await ssh.ExecAsync(host.Name, NvidiaSmi.Command, stdin: null, StepTimeout, onLine: null, cancellationToken);
        if (gpus.SshFailed)
        {
            board.Done(host.Name, "unreachable");
            return state with { Reachable = false, Error = StepError("running nvidia-smi", gpus) };
        }
        GpuInventory inventory;
        try
        {
            inventory = NvidiaSmi.Parse(gpus.Stdout + gpus.Stderr);
        }
        catch (FormatException e)
        {
            inventory = new GpuInventory { Status = GpuStatus.NoDriver, Detail = e.Message };
        }
        var hostFacts = HostFacts.Parse(facts.Stdout);
        return state with
        {
            Reachable = true,
            Error = null,
            LastSuccess = time.GetUtcNow(),
            Facts = hostFacts,
            Gpus = inventory,
            Address = host.Ssh.ThroughGateway ? hostFacts.Addresses?[0] : host.Ssh.HostName,
        };
    }

    /// <summary>The fleet key, the hosts' keys and an ssh config naming every host, on every host that answered.</summary>
    private async Task<HostState[]> InstallPeerAccessAsync(string fleet, HostState[] hosts, Ssh ssh, ProgressBoard board, string knownHostsPath, CancellationToken cancellationToken)
    {
        var keyPath = store.FleetKey(fleet);
        await PeerAccess.EnsureKeyAsync(keyPath, fleet, cancellationToken);
        var script = PeerAccess.Script(
            fleet,
            await File.ReadAllTextAsync(keyPath, cancellationToken),
            await File.ReadAllTextAsync(keyPath + ".pub", cancellationToken),
            KnownHosts.Lines(knownHostsPath, hosts.Select(h => h.Name).ToList()),
            PeerAccess.Config(fleet, hosts));
        return await Task.WhenAll(hosts.Select(async host =>
        {
            if (!host.Reachable)
            {
                return host;
            }
            board.Step(host.Name, "fleet key and ssh config");
            var result = await ssh.ExecAsync(host.Name, "sh -s", script, StepTimeout, onLine: null, cancellationToken);
            if (result.ExitCode != 0)
            {
                board.Done(host.Name, "fleet key not installed");
                return host with { PeerAccess = false, Error = StepError("installing the fleet key", result) };
            }
            board.Done(host.Name, host.Gpus?.Status switch
            {
                GpuStatus.Present => $"done: {host.Gpus.Gpus.Count} GPU{(host.Gpus.Gpus.Count == 1 ? "" : "s")}",
                GpuStatus.NoDriver => "done: no NVIDIA driver",
                _ => "done: no nvidia-smi",
            });
            return host with { PeerAccess = true };
        }));
    }

    private string StepError(string step, SshResult result) =>
        result.TimedOut ? $"{step}: no answer within {StepTimeout.TotalSeconds:0}s" : $"{step}: {Ssh.Describe(result.Stderr, "the host")}";

    /// <summary>Adds the expected fingerprint, which only our known_hosts knows, to a changed-key refusal.</summary>
    private static string ExplainKey(string error, string alias, IReadOnlyDictionary<string, string> known, string knownHostsPath)
    {
        if (!error.StartsWith(Ssh.KeyChanged, StringComparison.Ordinal))
        {
            return error;
        }
        return known.TryGetValue(alias, out var expected)
            ? $"{error}, expected {expected}; refused (if the host was reinstalled, run `ssh-keygen -R {alias} -f {knownHostsPath}` and apply again)"
            : $"{error}; refused";
    }
}
