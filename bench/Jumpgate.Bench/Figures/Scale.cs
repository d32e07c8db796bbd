using System.Diagnostics;
using System.Globalization;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Scale: one gateway with a hundred agents and ten thousand idle streams, against the same gateway
/// unloaded, both running side by side and measured in alternated rounds. The agents are one process
/// (this benchmark again, <c>--agents</c>) running the agent library once per identity, each serving a
/// host of its own with the echo service; the idle streams are opened on user trunks as `jumpgate
/// forward` dials them (this process, through the CLI's own trunk code), spread over the hundred hosts,
/// each proven with one echo, then silent. What is measured on both gateways is a separate agent with no
/// idle streams (node1, `jumpgate agent run`): new connections through `jumpgate forward`, and the
/// subdomain's requests/s with wrk. Memory per idle stream is weighed as the memory figure weighs it,
/// against `ssh -R` carrying as many connections in the same run.
/// </summary>
internal static class Scale
{
    private const string Unloaded = "Jumpgate, unloaded gateway";
    private const string LatencyFigure = "scale: new connection p50 / p99";
    private const string HttpFigure = "scale: HTTP small page, req/s · p99";
    private const string MemoryFigure = "scale: memory per idle stream";
    private const string FilesFigure = "scale: the gateway's open files";

    /// <summary>Streams opened and closed before a baseline is weighed: pools and the first tiers' code are a cost of the process, not of each stream.</summary>
    private const int WarmUp = 300;

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var loadBefore = LoadAverage();
        var (agents, streams) = (plan.ScaleAgents, plan.ScaleStreams);
        var loaded = $"**Jumpgate, {agents} agents + {streams:N0} idle streams**";

        // ssh -R first, while this process holds nothing else: its connections cost a descriptor here twice (client and echo).
        var sshCount = Math.Min(streams, (OpenFilesLimit(Environment.ProcessId) - 2000) / 2);
        var port = Ports.Free();
        var client = await rig.Ssh.TunnelAsync("ssh -R (scale)", ["-N", "-R", $"127.0.0.1:{port}:127.0.0.1:{rig.Echo.Port}", "relay"], port);
        IReadOnlyList<int> SshPids() =>
            [.. Processes.WithCommandLine(OpenSsh.ConfigPathOf(rig.Ssh.Relay)).SelectMany(Processes.Tree).Append(client.Id).Distinct()];
        var ssh = await Memory.WeighAsync("ssh -R", port, sshCount, SshPids, () => [], () => [client.Id]);
        await client.DisposeAsync();
        say($"scale: ssh -R {Table.F(ssh.PerConnection)} KiB per connection ({ssh.Opened} opened)");

        var services = new Dictionary<string, int> { ["echo"] = rig.Echo.Port };
        if (rig.Web is not null)
        {
            services[JumpgateRig.HttpService] = rig.Web.UpstreamPort;
        }
        await using var quiet = await JumpgateRig.StartAsync(services);
        // One user holds every idle stream here, so the per-user limit (1,024 by default) is raised to fit them; the per-trunk one stays.
        await using var busy = await JumpgateRig.StartAsync(services, gatewayYaml: $"""
            trunks:
              max_streams_per_user: {streams + 1024}
            """);
        var targets = new Dictionary<string, Target>();
        foreach (var (name, jumpgate) in new[] { (Unloaded, quiet), (loaded, busy) })
        {
            targets[name] = await Target.StartAsync(name, jumpgate, rig.Web is not null && Http.WrkPath is not null);
        }

        say($"scale: adding {agents} agents to the loaded gateway and starting them in one process");
        var clock = Stopwatch.StartNew();
        var deployment = busy.Deployment;
        var configs = new List<string>();
        var hosts = new List<string>();
        for (var i = 0; i < agents; i++)
        {
            var name = $"crowd-{i:000}";
            var token = await deployment.AddAgentAsync(name, name);
            var config = deployment.Dir.File($"{name}.yaml");
            // No health checks: a hundred agents probing the one echo server would be load of the benchmark's own making.
            await File.WriteAllTextAsync(config, $$"""
                gateway: {{deployment.GatewayUrl}}
                token_file: {{token}}
                fingerprint: {{deployment.Fingerprint}}
                hosts:
                  {{name}}:
                    address: 127.0.0.1
                    services:
                      echo: { port: {{rig.Echo.Port}}, health: off }

                """);
            configs.Add(config);
            hosts.Add(name);
        }
        await using var crowd = ChildProcess.Start($"{agents} agents", Environment.ProcessPath!, [typeof(Scale).Assembly.Location, AgentsArgument, .. configs], null);
        await crowd.WaitForLineAsync(@"^all \d+ agents registered", Signals.Timeout(120));
        say($"scale: {agents} agents added and registered in {clock.Elapsed.TotalSeconds:0.0} s");

        var gateway = busy.Gateway.Id;
        // The agents alone (heartbeats), before any stream: what the streams add is told apart from it below.
        // Registration's tail (the trunks' handshakes, the hosts written to the store) is let pass first.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var agentsCpu = await IdleCpuAsync([gateway], TimeSpan.FromSeconds(5));
        await using (var warm = await IdleStreams.OpenAsync(deployment.GatewayUrl, deployment.Fingerprint, deployment.UserToken, hosts, "echo", WarmUp, TimeSpan.FromSeconds(60)))
        {
            Checked(warm, WarmUp, "warm-up");
        }
        // A fixed pause before weighing, as the memory figure takes: the closed streams' last frames are written and freed.
        await Task.Delay(Settle);
        var before = (Gateway: Processes.RssKiB(gateway), Agents: Processes.RssKiB(crowd.Id), Files: OpenFiles(gateway), AgentFiles: OpenFiles(crowd.Id));
        clock.Restart();
        await using var idle = await IdleStreams.OpenAsync(deployment.GatewayUrl, deployment.Fingerprint, deployment.UserToken, hosts, "echo", streams, TimeSpan.FromSeconds(180));
        var openSeconds = clock.Elapsed.TotalSeconds;
        Checked(idle, streams, "idle streams");
        say($"scale: {idle.Count} idle streams open on {idle.Trunks} user trunks in {openSeconds:0.0} s ({idle.Count / openSeconds:0} a second)");
        await Task.Delay(Settle);
        var after = (Gateway: Processes.RssKiB(gateway), Agents: Processes.RssKiB(crowd.Id), Files: OpenFiles(gateway), AgentFiles: OpenFiles(crowd.Id));
        var idleCpu = await IdleCpuAsync([quiet.Gateway.Id, gateway], TimeSpan.FromSeconds(5));

        var conditions = new[] { Unloaded, loaded };
        var samples = conditions.ToDictionary(c => c, _ => new List<double>());
        var failures = conditions.ToDictionary(c => c, _ => 0);
        var http = conditions.ToDictionary(c => c, _ => new List<(double Rps, double P99)>());
        foreach (var target in targets.Values)
        {
            await target.WarmUpAsync(plan);
        }
        for (var round = 1; round <= plan.ScaleRounds; round++)
        {
            // The order turns each round, so neither gateway always runs right after the other.
            foreach (var condition in round % 2 == 1 ? conditions : conditions.Reverse())
            {
                var target = targets[condition];
                var got = samples[condition].Count;
                await Latency.MeasureAsync(target.Path, plan.LatencyPerRound, plan.LatencyRoundCap, samples[condition], () => failures[condition]++);
                var line = $"scale {round}/{plan.ScaleRounds}: {condition} new connection p50 {Table.F(Stats.Median(samples[condition].Skip(got).ToList()))} ms";
                if (target.Web is not null)
                {
                    var measured = await Http.WrkAsync(target.Web, plan.HttpSeconds);
                    http[condition].Add((measured.Rps, measured.P99));
                    line += $", HTTP {measured.Rps:0} req/s, p99 {Table.F(measured.P99)} ms";
                }
                say(line);
            }
        }
        var stillOpen = idle.Count;
        var filesEnd = OpenFiles(gateway);

        string LatencyResult(string name)
        {
            var all = samples[name];
            var failed = failures[name] > 0 ? $", **{failures[name]} failed**" : "";
            return $"{Table.F(Stats.Median(all))} / {Table.F(Stats.Percentile(all, 99))} ms (n = {all.Count}{failed})";
        }
        table.Add(new Row(LatencyFigure, Unloaded, LatencyResult(Unloaded)));
        table.Check(LatencyFigure, LatencyResult(loaded), Stats.Percentile(samples[loaded], 99) / Stats.Percentile(samples[Unloaded], 99),
            "unloaded (p99)", "≤ 1.2 ×", atMost: true, 1.2, loaded);
        if (http[Unloaded].Count > 0)
        {
            double Rps(string name) => Stats.Median([.. http[name].Select(r => r.Rps)]);
            string Result(string name) => $"{Rps(name):0} req/s · p99 {Table.F(Stats.Median([.. http[name].Select(r => r.P99)]))} ms";
            table.Add(new Row(HttpFigure, Unloaded, Result(Unloaded)));
            table.Check(HttpFigure, Result(loaded), Rps(loaded) / Rps(Unloaded), "unloaded req/s", "≥ 0.83 × (within 1.2 ×)", atMost: false, 1 / 1.2, loaded);
        }
        else
        {
            table.Add(new Row(HttpFigure, loaded, $"n/a ({(rig.Web is null ? "nginx" : "wrk")} is not installed)"));
        }

        var perStream = (after.Gateway + after.Agents - before.Gateway - before.Agents) / (double)Math.Max(1, idle.Count);
        var gatewayPerStream = (after.Gateway - before.Gateway) / (double)Math.Max(1, idle.Count);
        var sshdPerConnection = ssh.PerConnection - ssh.PartPerConnection;
        table.Add(new Row(MemoryFigure, "ssh -R (sshd + ssh)", ssh.Describe() + $" with {ssh.Opened:N0} open; of it the relay sshd {Table.F(sshdPerConnection)} KiB"));
        table.Check(MemoryFigure, $"{Table.F(perStream)} KiB (gateway {Table.F(before.Gateway / 1024.0)} → {Table.F(after.Gateway / 1024.0)} MiB, {agents} agents {Table.F(before.Agents / 1024.0)} → {Table.F(after.Agents / 1024.0)} MiB) with {idle.Count:N0} open; of it the gateway {Table.F(gatewayPerStream)} KiB ({Table.F(gatewayPerStream / sshdPerConnection)} × the relay sshd)",
            perStream / ssh.PerConnection, "ssh -R", "≤ 0.3 ×", atMost: true, 0.3, loaded);
        table.Add(new Row(FilesFigure, loaded,
            $"{before.Files} → {after.Files} with {idle.Count:N0} idle streams ({filesEnd} after the rounds); the agents' process {before.AgentFiles} → {after.AgentFiles}; limit {OpenFilesLimit(gateway):N0} a process"));

        table.Note($"Scale: two gateways side by side, each with `jumpgate agent run` serving node1 (echo, web) and `jumpgate forward node1:echo --trunk`; the loaded one also has {agents} agents (`gateway add-agent` each, one process running the agent library once per identity, each serving a host of its own, pool_size as the gateway says) " +
            $"and {idle.Count:N0} idle streams on {idle.Trunks} user trunks of one user (opened as `forward` opens them, through the CLI's trunk code in the benchmark's process, spread over the {agents} hosts, each proven with a 64-byte echo; trunks.max_streams_per_user raised to {streams + 1024}), opened in {openSeconds:0.0} s ({idle.Count / openSeconds:0} a second); {stillOpen:N0} were still open after the rounds. " +
            $"New connections and HTTP go to node1, which carries no idle stream, {plan.ScaleRounds} rounds alternated (the order turning), each as the new-connection and HTTP figures measure them. " +
            $"Memory: VmRSS of the gateway and the agents' process, after {WarmUp} streams opened and closed, then {Settle.TotalSeconds:0} s after the last idle stream opened; ssh -R weighed the same way with {ssh.Opened:N0} connections (the relay sshd and the ssh client). " +
            $"Idle CPU with nothing moving: the unloaded gateway {idleCpu[0]:0.0} ms a second, the loaded one {agentsCpu[0]:0.0} ms with its {agents + 1} agents before any idle stream (their heartbeats) and {idleCpu[1]:0.0} ms with the idle streams too (the access monitor's and the dashboard sample's passes over them). " +
            $"Open files: /proc/PID/fd; the limit is RLIMIT_NOFILE's soft limit, which .NET raises to the hard limit at start. Machine load: load average {loadBefore} before the figure, {LoadAverage()} after, on {Environment.ProcessorCount} cores.");
    }

    /// <summary>The argument that makes this program the agents' process instead of the benchmark.</summary>
    public const string AgentsArgument = "--agents";

    /// <summary>The agents' process: one agent per config file, until the benchmark stops it.</summary>
    public static async Task<int> RunAgentsAsync(IReadOnlyList<string> configs)
    {
        await using var crowd = await AgentCrowd.StartAsync(configs, TimeSpan.FromSeconds(90), line => Console.Error.WriteLine(line));
        Console.WriteLine($"all {crowd.Connected} agents registered");
        // Until the benchmark kills it, or a day at most.
        await Task.Delay(TimeSpan.FromDays(1));
        return 0;
    }

    private static void Checked(IdleStreams opened, int asked, string what)
    {
        if (opened.Count < asked)
        {
            throw new InvalidOperationException($"{what}: only {opened.Count} of {asked} streams opened ({opened.Failed} failed: {string.Join("; ", opened.Errors)})");
        }
    }

    private static async Task<double[]> IdleCpuAsync(int[] pids, TimeSpan length)
    {
        var cpu = new ProcessCpu([.. pids.Select(p => ($"{p}", (IReadOnlyList<int>)[p]))]);
        // A fixed stretch of time is the measurement here, not a wait for something to happen.
        await Task.Delay(length);
        return [.. cpu.Spent().Select(r => r.Milliseconds / length.TotalSeconds)];
    }

    private static int OpenFiles(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    /// <summary>RLIMIT_NOFILE's soft limit of a process, from /proc/PID/limits.</summary>
    private static int OpenFilesLimit(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return soft == "unlimited" ? int.MaxValue / 4 : int.Parse(soft, CultureInfo.InvariantCulture);
    }

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>What the rounds measure on one gateway: its forward to node1's echo, and wrk's target on node1's subdomain.</summary>
    private sealed record Target(TunnelPath Path, Http.WrkTarget? Web)
    {
        public static async Task<Target> StartAsync(string name, JumpgateRig jumpgate, bool web)
        {
            var path = new TunnelPath(name, await jumpgate.ForwardAsync("echo", ForwardPath.Trunk), null);
            await EchoProbe.VerifyAsync(name, path.EchoPort, 1 << 20, Signals.Timeout(30));
            if (!web)
            {
                return new Target(path, null);
            }
            var (gatewayPort, host, cookie) = await jumpgate.BrowserSessionAsync();
            return new Target(path, new Http.WrkTarget(name, $"https://127.0.0.1:{gatewayPort}/", ["-H", $"Host: {host}", "-H", $"Cookie: {cookie}"]));
        }

        /// <summary>Unmeasured: the JIT's first tiers and the connection pools, on both gateways alike.</summary>
        public async Task WarmUpAsync(Plan plan)
        {
            await Latency.MeasureAsync(Path, plan.LatencyWarmup, TimeSpan.FromSeconds(5), [], () => { });
            if (Web is not null)
            {
                await Http.WrkAsync(Web, plan.HttpWarmupSeconds);
            }
        }
    }
}
