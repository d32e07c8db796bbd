using System.Diagnostics;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 7: how long a tunnel takes to work again after its server restarts. Jumpgate: SIGKILL
/// the gateway, keep it down 0, 1, 5 or 30 s, start it on the same port; the agent reconnects by
/// itself. OpenSSH: autossh -M 0 with ServerAliveInterval 1 keeping an agent-side ssh -R up;
/// SIGKILL the relay sshd (listener and sessions), keep it down, start it on the same port.
/// Measured from "listening again" to the first 64-byte echo that comes back through the tunnel;
/// a tunnel that has not come back within <see cref="Limit"/> is reported as such, not as an error.
/// </summary>
internal static class Reconnect
{
    private const string Autossh = "autossh -M 0 (ssh -R)";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(40);

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var sshdConfig = OpenSsh.ConfigPathOf(rig.Ssh.Restartable);
        var autosshPort = Ports.Free();
        var autossh = ChildProcess.Start("autossh", "autossh",
            ["-M", "0", "-N", "-F", rig.Ssh.Config(), "-o", "ServerAliveInterval=1", "-R", $"127.0.0.1:{autosshPort}:127.0.0.1:{rig.Echo.Port}", "relay2"],
            null, new Dictionary<string, string> { ["AUTOSSH_GATETIME"] = "0" });
        var restarted = new List<ChildProcess>();
        try
        {
            await Ports.WaitListeningAsync(autosshPort, "autossh", autossh, Signals.Timeout(30));
            var jumpgatePort = rig[PathNames.Jumpgate].EchoPort;
            await EchoProbe.VerifyAsync(Autossh, autosshPort, 1024, Signals.Timeout(10));
            await EchoProbe.VerifyAsync("Jumpgate", jumpgatePort, 1024, Signals.Timeout(10));

            var results = new Dictionary<(string, double), List<(double AfterListen, double AfterKill)>>();
            foreach (var down in plan.ReconnectDowntimes)
            {
                var runs = down >= 5 ? Math.Min(plan.ReconnectRuns, 1) : plan.ReconnectRuns;
                for (var run = 0; run < runs; run++)
                {
                    var jumpgate = await MeasureAsync(jumpgatePort, down,
                        rig.Jumpgate.KillGatewayAsync,
                        rig.Jumpgate.StartGatewayAsync);
                    Add(results, (PathNames.Jumpgate, down), jumpgate);
                    var ssh = await MeasureAsync(autosshPort, down,
                        () =>
                        {
                            Processes.Kill(Processes.WithCommandLine(sshdConfig).SelectMany(Processes.Tree).Distinct().ToList());
                            return Task.CompletedTask;
                        },
                        async () =>
                        {
                            var sshd = ChildProcess.Start("relay2 sshd", Sshd.SshdPath, ["-D", "-e", "-f", sshdConfig], null);
                            restarted.Add(sshd);
                            await sshd.WaitForLineAsync("Server listening on", Signals.Timeout(10));
                        });
                    Add(results, (Autossh, down), ssh);
                    say($"reconnect, down {down:0} s: Jumpgate {Table.F(jumpgate.AfterListen)} s, autossh {Table.F(ssh.AfterListen)} s after listening again");
                }
            }

            foreach (var down in plan.ReconnectDowntimes)
            {
                var figure = $"reconnect, server down {down:0} s";
                string Result(string name)
                {
                    var afterListen = Stats.Median([.. results[(name, down)].Select(r => r.AfterListen)]);
                    var count = results[(name, down)].Count;
                    return double.IsPositiveInfinity(afterListen)
                        ? $"not working again {Limit.TotalSeconds:0} s after listening again (n = {count})"
                        : $"{Table.F(afterListen)} s after listening again ({Table.F(Stats.Median([.. results[(name, down)].Select(r => r.AfterKill)]))} s after the kill, n = {count})";
                }
                table.Add(new Row(figure, Autossh, Result(Autossh)));
                var jumpgate = Stats.Median([.. results[(PathNames.Jumpgate, down)].Select(r => r.AfterListen)]);
                var ssh = Stats.Median([.. results[(Autossh, down)].Select(r => r.AfterListen)]);
                var ratio = double.IsPositiveInfinity(ssh) ? $"autossh not back within {Limit.TotalSeconds:0} s" : $"{Table.F(jumpgate / ssh)} × autossh";
                table.CheckAbsolute(figure, Result(PathNames.Jumpgate), jumpgate, ratio, "≤ 1 s after listening", 1.0);
            }
            table.Note("Reconnect: SIGKILL of the gateway (Jumpgate, reached through `forward` on its default path: its direct session ends with the gateway, and a connection after the restart asks for a new one) or of the whole relay sshd (autossh, AUTOSSH_GATETIME=0), restarted on the same port after the stated downtime; " +
                "time until a new connection through the tunnel echoes 64 bytes, probing every 20 ms for up to " + $"{Limit.TotalSeconds:0} s. The 30 s downtime runs once, and none between 1 s and 30 s (the backoff is capped at 500 ms long before), to keep the run under 10 minutes.");
        }
        finally
        {
            // autossh's ssh child outlives a killed autossh; end both.
            var tree = Processes.Tree(autossh.Id);
            await autossh.DisposeAsync();
            Processes.Kill(tree);
            foreach (var sshd in restarted)
            {
                await sshd.DisposeAsync();
            }
        }
    }

    private static void Add(Dictionary<(string, double), List<(double, double)>> results, (string, double) key, (double, double) value)
    {
        if (!results.TryGetValue(key, out var list))
        {
            results[key] = list = [];
        }
        list.Add(value);
    }

    /// <summary>
    /// Kills, waits <paramref name="down"/> seconds, restarts, and probes until an echo comes back through
    /// <paramref name="port"/>; infinity when none has within <see cref="Limit"/>.
    /// </summary>
    private static async Task<(double AfterListen, double AfterKill)> MeasureAsync(int port, double down, Func<Task> kill, Func<Task> start)
    {
        await kill();
        var killed = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(down));
        await start();
        var listening = Stopwatch.StartNew();
        var ok = await Task.Factory.StartNew(() =>
        {
            var payload = new byte[64];
            var back = new byte[64];
            while (listening.Elapsed < Limit)
            {
                Random.Shared.NextBytes(payload);
                if (EchoProbe.RoundTrip(port, payload, back))
                {
                    return true;
                }
                Thread.Sleep(20);
            }
            return false;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return ok ? (listening.Elapsed.TotalSeconds, killed.Elapsed.TotalSeconds) : (double.PositiveInfinity, double.PositiveInfinity);
    }
}
