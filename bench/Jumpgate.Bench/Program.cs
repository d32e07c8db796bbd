using System.Diagnostics;
using System.Globalization;
using Jumpgate.Bench;
using Jumpgate.Bench.Figures;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

// Jumpgate's benchmark against a direct connection, socat, OpenSSH (-L, -R through a relay, -J
// through a bastion, autossh) and nginx, all set up on loopback by the benchmark itself.
// `bench/run` builds and runs it; `bench/run --smoke` runs one short iteration of each figure.

if (args.FirstOrDefault() == Scale.AgentsArgument)
{
    // The scale figure's agents: this program again, in a process of its own (its sockets, its memory).
    return await Scale.RunAgentsAsync(args[1..]);
}
var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault();
// For working on one figure: --only memory,reconnect runs those figures alone.
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault()?.Split(',');
var plan = (args.Contains("--smoke") ? Plan.Smoke : Plan.Full) with { Only = only };
var native = args.SkipWhile(a => a != "--native").Skip(1).FirstOrDefault() is { } nativePath ? Path.GetFullPath(nativePath) : null;
if (native is not null)
{
    // Every Jumpgate process of the run (gateway, agent, forward, proxy) is the binary the README installs.
    Jumpgate.TestSupport.Jumpgate.Executable = native;
}
var clock = Stopwatch.StartNew();
void Say(string line) => Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds,5:0.0}s] {line}");

// Ctrl-C or bench/run's time limit: take down every process this run started (all descendants of this
// one, by id), so no sshd, gateway or iperf3 outlives it; the normal path disposes them one by one.
using var onInterrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, StopEverything);
using var onTerminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, StopEverything);
void StopEverything(System.Runtime.InteropServices.PosixSignalContext context)
{
    context.Cancel = true;
    Say($"{context.Signal}: stopping every process this run started");
    Processes.Kill(Processes.Tree(Environment.ProcessId).Where(pid => pid != Environment.ProcessId).Reverse());
    Environment.Exit(130);
}

var machine = Machine.Describe();
Say($"{plan.Name} run on {machine}");
var table = new Table(plan);
string defaultCipher;
await using (var rig = await Rig.StartAsync(Say, native))
{
    defaultCipher = rig.Ssh.DefaultCipher;
    var figures = new (string Name, Func<Rig, Plan, Table, Action<string>, Task> Run)[]
    {
        ("correctness", Correctness.RunAsync),
        ("bulk", Bulk.RunAsync),
        ("new connection", Latency.RunAsync),
        ("`ssh host true`", SshTrue.RunAsync),
        // `--only=scp` or `--only=cpu`: the same runs give `jumpgate proxy`'s CPU per GB on the SSH path.
        ("scp, and proxy CPU per GB", Scp.RunAsync),
        // `--only=rsync`: many small files, where each costs round trips more than bytes.
        ("rsync", Rsync.RunAsync),
        ("`jumpgate proxy` start-up", ProxyStartup.RunAsync),
        ("HTTP", Http.RunAsync),
        // `--only=websocket`: a kernel message's round trip through the subdomain against ssh -L.
        ("WebSocket round trip", WebSocketRoundTrip.RunAsync),
        // `--only=pairs`: two builds of jumpgate alternated on the HTTP and WebSocket paths (JUMPGATE_BENCH_BASELINE names the other).
        ("pairs of builds", HttpPairs.RunAsync),
        ("fleet", Fleet.RunAsync),
        // `--only=watched`: the dashboard open in Chromium and Prometheus scraping, against neither, on a Jumpgate of its own.
        ("the cost of being watched", Watched.RunAsync),
        // High availability (`--only=failover`, `--only=store`): each starts Jumpgates of its own; the two on PostgreSQL share one throw-away cluster.
        ("replica failover", ReplicaFailover.RunAsync),
        ("gateway failover", GatewayFailover.RunAsync),
        ("PostgreSQL store cost", StoreCost.RunAsync),
        // A Jumpgate of its own against a socat relay; named (`--only=relay`), also one that copies instead of splicing.
        (DirectRelay.Figure, DirectRelay.RunAsync),
        // `--only=scale`: 100 agents and 10,000 idle streams on a gateway of its own, against an unloaded one.
        ("scale", Scale.RunAsync),
        // Memory runs its own Jumpgate (a raised trunks.max_streams); reconnect kills the rig's gateway, so it comes last.
        ("memory", Memory.RunAsync),
        ("reconnect", Reconnect.RunAsync),
    };
    // Figures that a full run leaves out, to stay within its 10 minutes (bench/run's hard stop is 13);
    // `--only` names them. The smoke run leaves them out too, to stay within its 6 minutes in CI: what
    // each one drives has end-to-end tests of its own (the dashboard, many idle streams, the HTTP path).
    string[] onlyWhenNamed = ["pairs of builds", "the cost of being watched", "scale"];
    // In the full run but not the smoke run, for the same reason: rsync (many ssh logins) and the relay's CPU (a Jumpgate of its own).
    string[] notInSmoke = ["rsync", DirectRelay.Figure];
    bool Chosen(string name) => only is not null
        ? only.Any(o => name.Contains(o, StringComparison.OrdinalIgnoreCase))
        : !onlyWhenNamed.Contains(name) && (plan.JudgeTargets || !notInSmoke.Contains(name));
    foreach (var (name, run) in figures.Where(f => Chosen(f.Name)))
    {
        var started = clock.Elapsed;
        Say($"figure: {name}");
        try
        {
            await run(rig, plan, table, Say);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or System.Net.Sockets.SocketException or KeyNotFoundException or HttpRequestException or System.Text.Json.JsonException)
        {
            // One broken figure must not hide the others; the run still fails at the end.
            Say($"figure {name} failed: {e}");
            table.Error(name, e);
        }
        Say($"figure {name} took {(clock.Elapsed - started).TotalSeconds:0} s");
    }
}

table.Note($"OpenSSH rows use OpenSSH's default cipher, {defaultCipher}. Jumpgate's TLS is 1.3, AES-128-GCM first.");
var markdown = table.ToMarkdown(
[
    $"# Jumpgate benchmark ({plan.Name} run)",
    "",
    $"- date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC",
    $"- machine: {machine}",
    $"- software: {Machine.Software()}",
    $"- duration: {clock.Elapsed.TotalSeconds:0} s (plus the build)",
    plan.JudgeTargets
        ? "- targets: issue 25 (the second performance round, with the figures it keeps: `jumpgate proxy` start-up, memory, `ssh host true`, reconnect; its scale figure runs with `--only=scale`), issue 17 (replica and gateway failover, the store's cost), issue 18 (fleet), issue 19 (the cost of being watched, with `--only=watched`); ratios are from this run, Jumpgate and its peers alternated"
        : "- smoke run: one short iteration of each figure; targets are not judged",
]);
Console.WriteLine(markdown);
if (output is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    await File.WriteAllTextAsync(output, markdown);
    Say($"wrote {output}");
}
return table.Failed ? 1 : 0;
