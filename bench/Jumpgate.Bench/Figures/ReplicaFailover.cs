using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Replica failover: two agent processes serve node1's echo, each in front of an echo server of its
/// own, and a `jumpgate forward` carries a steady stream of new connections to it. Mid-run one
/// replica dies: first its agent (SIGKILL), then, with the agent back, its target (the listener
/// closed; only the agent's health check can tell). Counted: failed connections, the longest time
/// without a successful one, the last failure after the death, and streams the gateway still sent
/// to the dead replica after its own log says it noticed.
/// </summary>
internal static class ReplicaFailover
{
    /// <summary>Short checks, as a team that wants fast failover sets them: a stopped target is noticed within 750 ms.</summary>
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private const int UnhealthyAfter = 3;

    /// <summary>How long one connection may take before it counts as failed (a stream sent to a frozen agent would wait 10 s).</summary>
    private static readonly TimeSpan EachTimeout = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var targetA = new EchoServer();
        await using var targetB = new EchoServer();
        var targetAStopped = false;
        await using var deployment = await Deployment.StartAsync(null);
        try
        {
            var hosts = new Dictionary<string, string>();
            foreach (var (agent, target) in new[] { ("lab-a", targetA), ("lab-b", targetB) })
            {
                hosts[agent] = $$"""
                    node1:
                      address: 127.0.0.1
                      services:
                        echo: { port: {{target.Port}}, health: { interval: {{Interval.TotalMilliseconds}}ms, unhealthy_after: {{UnhealthyAfter}}, healthy_after: 1 } }
                    """;
                await deployment.StartAgentAsync(agent, hosts[agent]);
            }
            var gateway = deployment.Gateway!;
            await gateway.WaitForLineAsync("agent lab-b connected from", Signals.Timeout(30));
            await using var forward = ChildProcess.Start("forward echo", TestSupport.Jumpgate.Executable,
                ["forward", "node1:echo", "--local", "127.0.0.1:0"], null, deployment.ClientEnvironment);
            var port = int.Parse((await forward.WaitForLineAsync(@"forwarding 127\.0\.0\.1:(\d+) ->", Signals.Timeout(60))).Groups[1].Value, CultureInfo.InvariantCulture);
            await EchoProbe.VerifyAsync("forward to two replicas", port, 1 << 16, Signals.Timeout(30));
            // Unmeasured: the paths' first streams (pools, trunks, and in a smoke run the JIT).
            var warm = await PacedConnections.RunAsync(port, plan.FailoverRate, TimeSpan.FromSeconds(1), EachTimeout, Stopwatch.StartNew());
            if (warm.Any(a => !a.Ok))
            {
                throw new InvalidOperationException($"{warm.Count(a => !a.Ok)} of {warm.Count} warm-up connections through two healthy replicas failed");
            }
            var figure = $"replica failover, {plan.FailoverRate} new connections/s for {plan.FailoverSeconds} s";

            // 1. The agent dies.
            var killed = await MeasureAsync(deployment, port, plan, "agent lab-a disconnected", () =>
            {
                deployment.Agent("lab-a").Signal(ChildProcess.SIGKILL);
                return Task.CompletedTask;
            }, targetA, targetB);
            say($"replica failover, agent killed: {killed}");
            Report(table, figure, "agent SIGKILLed", killed, 1.0, "no failure > 1 s after the kill");

            // 2. The agent is back; its target dies.
            await deployment.Agent("lab-a").DisposeAsync();
            var connectedBefore = gateway.Lines.Count(l => l.Contains("agent lab-a connected from", StringComparison.Ordinal));
            await deployment.StartAgentAsync("lab-a", hosts["lab-a"]);
            if (!await Signals.UntilAsync(() => Task.FromResult(gateway.Lines.Count(l => l.Contains("agent lab-a connected from", StringComparison.Ordinal)) > connectedBefore), Signals.Timeout(30)))
            {
                throw new TimeoutException("the restarted agent lab-a never reached the gateway");
            }
            var bound = ((Interval * UnhealthyAfter) + TimeSpan.FromSeconds(1)).TotalSeconds;
            var stopped = await MeasureAsync(deployment, port, plan, "agent lab-a: node1:echo is unhealthy", async () =>
            {
                targetAStopped = true;
                await targetA.DisposeAsync();
            }, targetA, targetB);
            say($"replica failover, target stopped: {stopped}");
            Report(table, figure, $"target stopped (health check every {Interval.TotalMilliseconds:0} ms, unhealthy after {UnhealthyAfter})", stopped, bound,
                $"no failure > {Table.F(bound)} s after the stop (interval × unhealthy_after + 1 s)");
        }
        finally
        {
            if (!targetAStopped)
            {
                await targetA.DisposeAsync();
            }
        }
        table.Note($"Replica failover: one gateway, two agent processes (lab-a, lab-b) serving node1:echo, each in front of an echo server of its own; `jumpgate forward` carries {plan.FailoverRate} new connections a second for {plan.FailoverSeconds} s " +
            $"(each started on schedule, 64 bytes out and back, a failure after {EachTimeout.TotalSeconds:0} s at most), and {plan.FailoverKillAt:0%} into the run lab-a dies: its agent by SIGKILL, then (agent restarted) its target's listener closed. " +
            "\"Noticed\" is the gateway's own log line (agent disconnected; replica unhealthy); streams for lab-a after it are the gateway's log lines that name lab-a for a stream (opened via, or could not open and retried) after that line: an upper bound, since a retry's line is written when the open fails, after the choice. " +
            "The gap is the longest time between two successful connections' ends. The 'before' split counts the connections each echo server accepted before the death.");
    }

    private static void Report(Table table, string figure, string what, Outcome outcome, double boundSeconds, string target)
    {
        var lastFailure = outcome.LastFailureAfterDeath switch
        {
            null => "no failure",
            // A connection that started before the death and failed was in flight on the replica that died.
            < 0 and var s => $"the last failed one started {Table.F(-s)} s before (in flight)",
            var s => $"last failure started {Table.F(s.Value)} s after",
        };
        var result = $"{what}: {outcome.Failed} of {outcome.Attempts} failed, {lastFailure}; longest gap {Table.F(outcome.LongestGapMs)} ms; " +
            $"noticed {Table.F(outcome.NoticedAfterMs)} ms after; {outcome.SentAfterNotice} for lab-a logged after; before: lab-a {outcome.SplitA}, lab-b {outcome.SplitB}";
        table.CheckAbsolute(figure, result, outcome.LastFailureAfterDeath ?? 0, "", target, boundSeconds);
        // By the order of the gateway's lines: a retry's line is written when the open fails, so a stream chosen just
        // before the notice and failed after it counts too; the count is an upper bound.
        table.CheckAbsolute(figure, $"{what}: {outcome.SentAfterNotice} streams for the dead replica in the gateway's log after its notice (opened, or failed and retried)", outcome.SentAfterNotice, "", "0 sent after the notice", 0);
    }

    /// <summary>What one death cost the stream of connections.</summary>
    private sealed record Outcome(int Attempts, int Failed, double? LastFailureAfterDeath, double LongestGapMs, double NoticedAfterMs, int SentAfterNotice, int SplitA, int SplitB)
    {
        public override string ToString() =>
            $"{Failed} of {Attempts} failed, last {LastFailureAfterDeath?.ToString("0.000", CultureInfo.InvariantCulture) ?? "-"} s after, gap {LongestGapMs:0} ms, noticed {NoticedAfterMs:0} ms after, {SentAfterNotice} sent after, split {SplitA}/{SplitB}";
    }

    /// <summary>Runs the stream of connections and, <see cref="Plan.FailoverKillAt"/> into it, <paramref name="die"/>; <paramref name="noticed"/> is the gateway's line that says it knows.</summary>
    private static async Task<Outcome> MeasureAsync(Deployment deployment, int port, Plan plan, string noticed, Func<Task> die, EchoServer targetA, EchoServer targetB)
    {
        var gateway = deployment.Gateway!;
        var mark = gateway.Lines.Count;
        var (acceptedA, acceptedB) = (targetA.Accepted, targetB.Accepted);
        var clock = Stopwatch.StartNew();
        var load = PacedConnections.RunAsync(port, plan.FailoverRate, TimeSpan.FromSeconds(plan.FailoverSeconds), EachTimeout, clock);
        // The scheduled moment of the death, not a wait for a condition.
        await Task.Delay(TimeSpan.FromSeconds(plan.FailoverSeconds * plan.FailoverKillAt));
        var (splitA, splitB) = (targetA.Accepted - acceptedA, targetB.Accepted - acceptedB);
        var diedMs = clock.Elapsed.TotalMilliseconds;
        await die();
        var noticedAt = NoticedAsync();
        var attempts = await load;
        var noticedMs = await noticedAt;
        // Which streams came after the notice: the order of the gateway's own lines says.
        var lines = gateway.Lines.Skip(mark).ToList();
        var at = lines.FindIndex(l => l.Contains(noticed, StringComparison.Ordinal));
        var sentAfter = lines.Skip(at + 1).Count(l => (l.Contains("via lab-a from", StringComparison.Ordinal) && l.EndsWith(" opened", StringComparison.Ordinal))
            || l.Contains("agent lab-a could not open it", StringComparison.Ordinal));
        var failed = attempts.Where(a => !a.Ok).ToList();
        return new Outcome(attempts.Count, failed.Count, failed.Count == 0 ? null : (failed.Max(a => a.StartedMs) - diedMs) / 1000,
            PacedConnections.LongestGap(attempts), noticedMs - diedMs, sentAfter, splitA, splitB);

        async Task<double> NoticedAsync()
        {
            await gateway.WaitForLineAsync(Regex.Escape(noticed), Signals.Timeout(plan.FailoverSeconds + 10));
            return clock.Elapsed.TotalMilliseconds;
        }
    }
}
