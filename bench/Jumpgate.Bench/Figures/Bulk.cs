using System.Text.Json;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 1: bulk throughput of one TCP stream and of 8 parallel streams, iperf3 -c through each
/// path to one iperf3 server. Paths alternate within each round (A B C … A B C …); medians are reported.
/// </summary>
internal static class Bulk
{
    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var paths = rig.Paths.Where(p => p.SinkPort is not null).ToList();
        int[] streamCounts = [1, 8];
        var results = streamCounts.ToDictionary(s => s, _ => paths.ToDictionary(p => p.Name, _ => new List<double>()));
        var cores = streamCounts.ToDictionary(s => s, _ => paths.ToDictionary(p => p.Name, _ => new List<double>()));
        string[] jumpgates = [PathNames.Jumpgate, PathNames.JumpgateTrunk];
        var roleCores = streamCounts.ToDictionary(s => s, _ => jumpgates.ToDictionary(j => j, _ => rig.Jumpgate.Roles.ToDictionary(r => r.Name, _ => new List<double>())));
        for (var round = 1; round <= plan.BulkRounds; round++)
        {
            foreach (var streams in streamCounts)
            {
                foreach (var path in paths)
                {
                    var meter = new CpuMeter();
                    var roles = jumpgates.Contains(path.Name) ? new ProcessCpu(rig.Jumpgate.Roles) : null;
                    var wall = System.Diagnostics.Stopwatch.StartNew();
                    var gbps = await IperfAsync(path, streams, plan.BulkSeconds, plan.BulkOmit, say);
                    var busy = meter.CoresBusy();
                    foreach (var (role, spent) in roles?.Spent() ?? [])
                    {
                        roleCores[streams][path.Name][role].Add(spent / wall.Elapsed.TotalMilliseconds);
                    }
                    results[streams][path.Name].Add(gbps);
                    cores[streams][path.Name].Add(busy);
                    say($"bulk {streams} stream(s), round {round}/{plan.BulkRounds}: {path.Name} {Table.F(gbps)} Gbit/s, {Table.F(busy)} cores busy");
                }
            }
        }

        foreach (var streams in streamCounts)
        {
            var figure = streams == 1 ? "bulk, 1 stream" : $"bulk, {streams} streams";
            var medians = results[streams].ToDictionary(r => r.Key, r => Stats.Median(r.Value));
            string Result(string name) => $"{Table.F(medians[name])} Gbit/s" + (results[streams][name].Count > 1
                ? $" ({Table.F(results[streams][name].Min())}–{Table.F(results[streams][name].Max())})"
                : "") + $", {Table.F(Stats.Median(cores[streams][name]))} cores busy";
            foreach (var path in paths.Where(p => !jumpgates.Contains(p.Name)))
            {
                table.Add(new Row(figure, path.Name, Result(path.Name)));
            }
            string WithRoles(string name) => Result(name) + " (" + string.Join(", ", roleCores[streams][name].Select(r => $"{r.Key} {Table.F(Stats.Median(r.Value))}")) + ")";
            // The default path's shape: TLS end to end with the agent, the gateway relaying ciphertext; the trunk's: TLS on both legs.
            table.Check(figure, WithRoles(PathNames.Jumpgate), medians[PathNames.Jumpgate] / medians[PathNames.SocatTlsEndToEnd], "C in the same shape", "≥ 0.95 ×", atMost: false, 0.95);
            table.Add(new Row(figure, PathNames.JumpgateTrunk, WithRoles(PathNames.JumpgateTrunk),
                $"{Table.F(medians[PathNames.JumpgateTrunk] / medians[PathNames.SocatTlsBothLegs])} × C in the trunk's shape"));
        }
        // The machine's speed for crypto, to compare runs by (these VMs vary by a third from day to day).
        var aes = await AesSpeed.PerCoreGigabytesAsync(plan.JudgeTargets ? 3 : 1);
        table.Note($"Bulk: AES-128-GCM runs at {Table.F(aes)} GB/s on one core in this run (openssl speed, 16 KiB blocks, CPU time); compare runs by their ratios, or by this.");
        table.Note($"Bulk: iperf3 -c … -t {plan.BulkSeconds} -O {plan.BulkOmit} [-P 8] through each path to its own iperf3 -s, {plan.BulkRounds} round(s), paths alternated within a round; the receiver's rate, median (min–max); cores busy: the whole machine over each iperf3 run, its unmeasured first {plan.BulkOmit} s included (/proc/stat, steal time not counted); in brackets, the cores Jumpgate's own processes kept busy (/proc/PID/stat).");
    }

    /// <summary>Runs iperf3 through a path and returns the receiver's rate in Gbit/s, after checking the bytes arrived.</summary>
    private static async Task<double> IperfAsync(TunnelPath path, int streams, int seconds, int omit, Action<string> say)
    {
        // The previous run's tail may still be draining through a relay with deep buffers, and iperf3 -s serves
        // one test at a time: wait (bounded) until it is free, which also keeps that tail out of this run.
        // Any other failure is retried twice, and said, before it fails the figure.
        var failures = 0;
        for (var attempt = 0; ; attempt++)
        {
            var result = await Command.RunAsync("iperf3",
                ["-c", "127.0.0.1", "-p", $"{path.SinkPort}", "-t", $"{seconds}", "-O", $"{omit}", "-P", $"{streams}", "-J", "--connect-timeout", "10000"],
                TimeSpan.FromSeconds(seconds + omit + 30));
            using var json = JsonDocument.Parse(result.Stdout.Length > 0 ? result.Stdout : "{}");
            var error = json.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
            if (error?.Contains("busy", StringComparison.Ordinal) == true && attempt < 80)
            {
                await Task.Delay(250);
                continue;
            }
            if ((error is not null || result.ExitCode != 0) && ++failures <= 2)
            {
                say($"iperf3 through {path.Name} failed ({error ?? result.Stderr.Trim()}); trying again");
                await Task.Delay(1000);
                continue;
            }
            if (error is not null || result.ExitCode != 0)
            {
                throw new InvalidOperationException($"iperf3 through {path.Name} failed: {error ?? result.Stderr}");
            }
            return Rate(path, json);
        }
    }

    private static double Rate(TunnelPath path, JsonDocument json)
    {
        var end = json.RootElement.GetProperty("end");
        var sent = end.GetProperty("sum_sent").GetProperty("bytes").GetDouble();
        var received = end.GetProperty("sum_received").GetProperty("bytes").GetDouble();
        // Only that bytes arrived: a relay with deep buffers (ssh -J holds two SSH windows per stream) may still hold
        // tens of megabytes when a short test ends. The 1 MiB echo check proved the bytes arrive unchanged.
        if (received <= 0)
        {
            throw new InvalidOperationException($"iperf3 through {path.Name}: the server received {received:0} of {sent:0} bytes sent");
        }
        return end.GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e9;
    }
}
