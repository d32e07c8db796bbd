using System.Diagnostics;
using System.Text.RegularExpressions;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Gateway failover: two `gateway run` processes on one throw-away PostgreSQL database, one agent
/// process that lists both, a user logged in with both addresses (the first first). `ssh node1.jg
/// true` (real ssh, `jumpgate proxy` as its ProxyCommand, the benchmark's target sshd) goes through
/// the first gateway; the first gateway is SIGKILLed and the same command runs again and again
/// until it works: the time from the kill to its first success. Nothing is restarted for it; for the
/// next run the first gateway is started again and the agent reconnects to it on its own.
/// </summary>
internal static class GatewayFailover
{
    private const string Figure = "gateway failover: `ssh node1.jg true` after SIGKILL of the gateway it used";

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var cluster = Outliving.Postgres;
        var url = new UriBuilder(cluster.Database("jg_bench_failover")) { Password = "" }.Uri.ToString();
        await using var deployment = await Deployment.StartAsync(null, store: (url, cluster.Password));
        var dead = new List<ChildProcess>();
        try
        {
            var (second, secondUrl) = await deployment.StartAnotherGatewayAsync("gw2");
            var firstUrl = deployment.GatewayUrl;
            var tokenFile = await deployment.AddAgentAsync("lab-a", "node*");
            await File.WriteAllTextAsync(deployment.Dir.File("lab-a.yaml"), $"""
                gateway:
                  - {firstUrl}
                  - {secondUrl}
                token_file: {tokenFile}
                fingerprint: {deployment.Fingerprint}
                hosts:
                  node1:
                    address: 127.0.0.1
                    services:
                      ssh: {rig.Ssh.Target.Port}
                """);
            var agent = await deployment.StartAgentAsync("lab-a", "", waitConnected: false);
            await agent.WaitForLineAsync($"connected to {Regex.Escape(secondUrl)} ", Signals.Timeout(60));
            var login = await deployment.JumpgateAsync("login", firstUrl, secondUrl, "--token", deployment.UserToken, "--fingerprint", deployment.Fingerprint);
            if (login.ExitCode != 0)
            {
                throw new InvalidOperationException($"login with both gateways failed: {login}");
            }
            var sshConfig = await deployment.WriteSshConfigAsync(rig.Ssh.Target, rig.NativeJumpgate);

            var before = new List<double>();
            var after = new List<double>();
            var attempts = new List<int>();
            for (var run = 1; run <= plan.GatewayFailoverRuns; run++)
            {
                await UntilConnectedAsync(agent, firstUrl, run);
                // The CLI asks first the gateway that answered last (its `last-gateway` file): the second, after a
                // run's failover. Each run starts where the first did, with the login's order, so it goes through the first.
                File.Delete(Path.Combine(deployment.ClientHome, "jumpgate", "last-gateway"));
                var first = deployment.Gateway!;
                var viaFirst = Streams(first);
                var clock = Stopwatch.StartNew();
                var once = await deployment.SshAsync(sshConfig, "node1.jg", "true");
                before.Add(clock.Elapsed.TotalMilliseconds);
                if (once.ExitCode != 0 || Streams(first) == viaFirst)
                {
                    throw new InvalidOperationException($"ssh node1.jg true did not go through the first gateway: {once}");
                }

                var viaSecond = Streams(second);
                first.Signal(ChildProcess.SIGKILL);
                var killed = Stopwatch.StartNew();
                double? back = null;
                var tries = 0;
                CommandResult? last = null;
                // Bounded: at most 100 tries within 30 s.
                while (back is null && tries < 100 && killed.Elapsed < TimeSpan.FromSeconds(30))
                {
                    tries++;
                    last = await deployment.SshAsync(sshConfig, "node1.jg", "true");
                    back = last.ExitCode == 0 ? killed.Elapsed.TotalMilliseconds : null;
                }
                if (back is not { } ms)
                {
                    throw new InvalidOperationException($"ssh node1.jg true did not work again within 30 s of the first gateway's SIGKILL: {last}");
                }
                if (Streams(second) == viaSecond || agent.Exited.IsCompleted || second.Exited.IsCompleted
                    || agent.Lines.Any(l => l.Contains($"lost the gateway {secondUrl}", StringComparison.Ordinal)))
                {
                    throw new InvalidOperationException("after the kill, ssh did not go through the second gateway, or the agent or the second gateway exited or lost their connection");
                }
                after.Add(ms);
                attempts.Add(tries);
                say($"gateway failover {run}/{plan.GatewayFailoverRuns}: ssh before the kill {before[^1]:0} ms; worked again {ms:0} ms after the kill, on try {tries}");

                await first.Exited.WaitAsync(Signals.Timeout(10));
                dead.Add(first);
                if (run < plan.GatewayFailoverRuns)
                {
                    await deployment.StartGatewayAsync();
                }
            }
            // ssh's own time (its handshake, the login shell) is most of the wait on a busy machine: what the failover
            // adds is the time after the kill less one ssh through a gateway that works.
            var added = (Stats.Median(after) - Stats.Median(before)) / 1000;
            var result = $"worked again {Table.F(Stats.Median(after) / 1000)} s after the kill (max {Table.F(after.Max() / 1000)} s, n = {after.Count}; on try {string.Join(", ", attempts)}); " +
                $"one ssh before the kill {Table.F(Stats.Median(before) / 1000)} s";
            table.CheckAbsolute(Figure, result, added, $"{(added >= 0 ? "+" : "")}{Table.F(added)} s over one ssh", "≤ 1 s added, nothing restarted", 1.0);
            table.Note($"Gateway failover: two `gateway run` processes on one database of a throw-away PostgreSQL cluster (initdb, pg_ctl on loopback), the second made with `gateway init --certificate-from` the first; one agent process listing both; `jumpgate login` with both, the first first. " +
                $"Real ssh with `jumpgate proxy` ({(rig.NativeJumpgate is null ? "JIT build" : "Native AOT")}) as ProxyCommand, to the benchmark's target sshd. Timed from the SIGKILL of the first gateway to the end of the first `ssh node1.jg true` that exits 0, started at once; judged by what that adds to one ssh through the first gateway before the kill (medians), since ssh's own handshake and login shell take most of it; " +
                "checked: it went through the second gateway, and the agent and the second gateway neither restarted nor lost their connection. Between runs the first gateway is started again and the agent reconnects to it by itself; the CLI's remembered gateway (`last-gateway`, the second after a failover) is removed, so each run starts from the login's order.");
        }
        finally
        {
            foreach (var process in dead)
            {
                await process.DisposeAsync();
            }
        }
    }

    /// <summary>Streams a gateway has logged as opened (its log is the only place that says which gateway carried a stream).</summary>
    private static int Streams(ChildProcess gateway) => gateway.Lines.Count(l => l.Contains("-> node1:ssh via lab-a", StringComparison.Ordinal) && l.EndsWith(" opened", StringComparison.Ordinal));

    /// <summary>Waits until the agent has connected to the first gateway <paramref name="times"/> times (once per start of it).</summary>
    private static async Task UntilConnectedAsync(ChildProcess agent, string url, int times)
    {
        if (!await Signals.UntilAsync(() => Task.FromResult(agent.Lines.Count(l => l.Contains($"connected to {url} ", StringComparison.Ordinal)) >= times), Signals.Timeout(60)))
        {
            throw new TimeoutException($"the agent did not connect to {url} within 60 s");
        }
    }
}
