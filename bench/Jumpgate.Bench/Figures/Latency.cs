using System.Diagnostics;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 2: new-connection latency. Open, send 64 bytes, read the 64 bytes the in-process echo
/// server sends back (checked), close; one connection at a time; p50 and p99. Paths alternate
/// round by round; each round is capped in count and in time.
/// </summary>
internal static class Latency
{
    private static readonly string[] Names = [PathNames.Direct, PathNames.Socat, PathNames.SshL, PathNames.SshJ, PathNames.Jumpgate, PathNames.JumpgateTrunk];

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var paths = Names.Select(n => rig[n]).ToList();
        var samples = paths.ToDictionary(p => p.Name, _ => new List<double>());
        var failures = paths.ToDictionary(p => p.Name, _ => 0);
        var cpuMilliseconds = paths.ToDictionary(p => p.Name, _ => 0.0);
        // Jumpgate's own processes, per path: the default path and the trunk share them.
        string[] jumpgates = [PathNames.Jumpgate, PathNames.JumpgateTrunk];
        var roleMilliseconds = jumpgates.ToDictionary(p => p, _ => rig.Jumpgate.Roles.ToDictionary(r => r.Name, _ => 0.0));
        // Thread hand-overs: the whole machine's context switches per connection, and Jumpgate's own processes'.
        var machineSwitches = paths.ToDictionary(p => p.Name, _ => 0L);
        var roleSwitches = jumpgates.ToDictionary(p => p, _ => rig.Jumpgate.Roles.ToDictionary(r => r.Name, _ => 0L));

        foreach (var path in paths)
        {
            await MeasureAsync(path, plan.LatencyWarmup, TimeSpan.FromSeconds(5), [], () => { });
        }
        for (var round = 1; round <= plan.LatencyRounds; round++)
        {
            foreach (var path in paths)
            {
                var before = samples[path.Name].Count;
                var meter = new CpuMeter();
                var roles = jumpgates.Contains(path.Name) ? new ProcessCpu(rig.Jumpgate.Roles) : null;
                var switches = jumpgates.Contains(path.Name) ? new ContextSwitches(rig.Jumpgate.Roles) : null;
                var machineBefore = ContextSwitches.Machine();
                var wall = Stopwatch.StartNew();
                await MeasureAsync(path, plan.LatencyPerRound, plan.LatencyRoundCap, samples[path.Name], () => failures[path.Name]++);
                cpuMilliseconds[path.Name] += meter.CoresBusy() * wall.Elapsed.TotalMilliseconds;
                machineSwitches[path.Name] += ContextSwitches.Machine() - machineBefore;
                foreach (var (role, spent) in roles?.Spent() ?? [])
                {
                    roleMilliseconds[path.Name][role] += spent;
                }
                foreach (var (role, made) in switches?.Made() ?? [])
                {
                    roleSwitches[path.Name][role] += made;
                }
                var got = samples[path.Name].Skip(before).ToList();
                say($"new connection, round {round}/{plan.LatencyRounds}: {path.Name} p50 {Table.F(Stats.Median(got))} ms over {got.Count}");
            }
        }

        const string figure = "new connection p50 / p99";
        int Connections(string name) => Math.Max(1, samples[name].Count + failures[name]);
        string Result(string name)
        {
            var all = samples[name];
            var failed = failures[name] > 0 ? $", **{failures[name]} failed**" : "";
            var cpu = cpuMilliseconds[name] / Connections(name);
            return $"{Table.F(Stats.Median(all))} / {Table.F(Stats.Percentile(all, 99))} ms (n = {all.Count}{failed}), {Table.F(cpu)} ms CPU each";
        }
        foreach (var path in paths.Where(p => !jumpgates.Contains(p.Name)))
        {
            table.Add(new Row(figure, path.Name, Result(path.Name)));
        }
        string WithRoles(string name) =>
            Result(name) + " (" + string.Join(", ", roleMilliseconds[name].Select(r => $"{r.Key} {Table.F(r.Value / Connections(name))}")) + ")";
        var jg = samples[PathNames.Jumpgate];
        var sshL = samples[PathNames.SshL];
        var sshJ = samples[PathNames.SshJ];
        var trunk = samples[PathNames.JumpgateTrunk];
        // ssh -J is the same shape as the default path: a new channel inside one end-to-end session, relayed as ciphertext.
        var result = WithRoles(PathNames.Jumpgate);
        table.Check(figure, result, Stats.Median(jg) / Stats.Median(sshJ), $"{PathNames.SshJ} (p50)", "≤ 1.0 ×", atMost: true, 1.0);
        table.Check(figure, result, Stats.Percentile(jg, 99) / Stats.Percentile(sshJ, 99), $"{PathNames.SshJ} (p99)", "≤ 1.0 ×", atMost: true, 1.0);
        table.Add(new Row(figure, PathNames.JumpgateTrunk, WithRoles(PathNames.JumpgateTrunk),
            $"{Table.F(Stats.Median(trunk) / Stats.Median(sshJ))} × / {Table.F(Stats.Percentile(trunk, 99) / Stats.Percentile(sshJ, 99))} × {PathNames.SshJ} (p50 / p99)"));

        table.Note("New connection, paths: **Jumpgate** is `forward` with no path option, as users run it: each connection a new stream inside `forward`'s one direct session (TLS end to end with the agent, relayed as ciphertext by the gateway), as each of ssh -J's is a new channel inside its one SSH session, so it is judged against ssh -J. " +
            $"The gateway still authorises and audits every stream (on the agent's report), so its path crosses three processes that work on each connection where ssh -J's extra ones only relay; ssh -J takes {Table.F(Stats.Median(sshJ) / Stats.Median(sshL))} × ssh -L's p50, {Table.F(Stats.Percentile(sshJ, 99) / Stats.Percentile(sshL, 99))} × its p99. " +
            "`forward --trunk` (the stream inside the gateway's TLS on both sides) is a reference.");

        // Every client above has closed its connection; a relay that carried the close has closed its own to the echo server.
        await TestSupport.Signals.UntilAsync(() => Task.FromResult(Ports.EstablishedOn(rig.Echo.Port) == 0), TimeSpan.FromSeconds(2));
        var leftOpen = Ports.EstablishedOn(rig.Echo.Port);
        say($"new connection: {leftOpen} connections to the echo server still open 2 s after their clients closed");
        if (leftOpen > 0)
        {
            table.Note($"New connection: {leftOpen} connections to the echo server were still open 2 s after all {samples.Values.Sum(s => s.Count) + (paths.Count * plan.LatencyWarmup)} clients had closed theirs " +
                "(see the end-of-connection rows); the gateway and the agent were restarted afterwards so that later figures start clean.");
            await rig.Jumpgate.RestartAsync();
        }
        string Switches(string name) => $"{(double)machineSwitches[name] / Connections(name):0}";
        string RoleSwitches(string name) => string.Join(", ", roleSwitches[name].Select(r => $"{r.Key} {(double)r.Value / Connections(name):0.0}"));
        table.Note($"New connection, context switches per connection, the whole machine (/proc/stat; the benchmark's client and echo server included): {string.Join(", ", paths.Select(p => $"{p.Name} {Switches(p.Name)}"))}; of Jumpgate's, its own processes' threads: {RoleSwitches(PathNames.Jumpgate)}.");
        table.Note("New connection, CPU each: the whole machine's busy time over the timed rounds (/proc/stat) divided by the connections; it includes the benchmark's own client and echo server, the same for every path. In brackets, Jumpgate's own processes (/proc/PID/stat), ms each.");
        table.Note($"New connection: up to {plan.LatencyRounds} × {plan.LatencyPerRound} connections per path, each round capped at {plan.LatencyRoundCap.TotalSeconds:0} s (so slow paths have fewer), after {plan.LatencyWarmup} warm-up connections; OpenSSH rows use the default cipher (the cipher does not matter for 64 bytes).");
    }

    internal static Task MeasureAsync(TunnelPath path, int count, TimeSpan cap, List<double> samples, Action failed) =>
        // A dedicated thread with blocking sockets: the client adds no thread-pool hops to what it measures,
        // and does not take a pool thread from the echo server running in this process.
        Task.Factory.StartNew(() =>
        {
            var payload = new byte[64];
            var back = new byte[64];
            var clock = Stopwatch.StartNew();
            var failedInARow = 0;
            for (var i = 0; i < count && clock.Elapsed < cap && failedInARow < 20; i++)
            {
                Random.Shared.NextBytes(payload);
                var start = Stopwatch.GetTimestamp();
                var ok = EchoProbe.RoundTrip(path.EchoPort, payload, back);
                var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (ok)
                {
                    samples.Add(elapsed);
                    failedInARow = 0;
                }
                else
                {
                    failed();
                    failedInARow++;
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
