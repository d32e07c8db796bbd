using System.Diagnostics;
using System.Security.Cryptography;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// `scp` of a checkpoint-sized file to the same target sshd, through each way `ssh host true`
/// takes: what users do with the tunnel. Jumpgate's way is the default `ssh-config`, plain legs
/// with the leg handed to ssh (ProxyUseFdpass). The same runs give `jumpgate proxy`'s CPU per GB
/// on the SSH path: its ProxyCommand runs in a wrapper that times it (<see cref="ProxyCpu"/>).
/// </summary>
internal static class Scp
{
    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var ways = await SshTrue.WaysAsync(rig);
        await using var shape = HaProxyChain.Executable is null ? null : await HaProxyChain.StartAsync(rig.Ssh.Target.Port, relays: 2);
        if (shape is not null)
        {
            ways = [.. ways, new SshTrue.Way(CShape, ["-F", rig.Ssh.Config(), "-o", $"Port={shape.Port}"], "target", null)];
        }
        var directory = Directory.CreateTempSubdirectory("jumpgate-bench-scp-");
        try
        {
            // Jumpgate's ProxyCommand runs in a wrapper that logs its CPU time: a bash start, a few ms of a run of seconds.
            var jumpgate = ways.Single(w => w.Name == PathNames.Jumpgate);
            var (timedConfig, proxyLog) = await ProxyCpu.TimedConfigAsync(jumpgate.Options[1], directory.FullName);
            ways = [.. ways.Select(w => w.Name == PathNames.Jumpgate ? w with { Options = ["-F", timedConfig] } : w)];
            var proxyPerGb = new List<double>();
            var file = Path.Combine(directory.FullName, "checkpoint.bin");
            await File.WriteAllBytesAsync(file, RandomNumberGenerator.GetBytes(plan.ScpMebibytes << 20));
            var rates = ways.ToDictionary(w => w.Name, _ => new List<double>());
            // What the relays between ssh and sshd spend per GB: Jumpgate's gateway and agent, and the same shape's C.
            var relays = new Dictionary<string, IReadOnlyList<int>> { [PathNames.Jumpgate] = rig.Jumpgate.ServerPids };
            if (shape is not null)
            {
                relays[CShape] = shape.Pids;
            }
            var relayCpu = relays.Keys.ToDictionary(n => n, _ => new List<double>());
            for (var i = 0; i < plan.ScpRuns; i++)
            {
                foreach (var (name, options, host, environment) in ways)
                {
                    var cpu = relays.TryGetValue(name, out var pids) ? new ProcessCpu([("relays", pids)]) : null;
                    File.Delete(proxyLog);
                    var clock = Stopwatch.StartNew();
                    var result = await Command.RunAsync("scp", [.. options, "-q", file, $"{host}:/dev/null"], Signals.Timeout(120), environment);
                    var seconds = clock.Elapsed.TotalSeconds;
                    if (result.ExitCode != 0)
                    {
                        throw new InvalidOperationException($"scp through {name} failed: {result}");
                    }
                    rates[name].Add(plan.ScpMebibytes * 8.0 * 1024 * 1024 / 1e9 / seconds);
                    var gigabytes = plan.ScpMebibytes * 1024.0 * 1024 / 1e9;
                    if (cpu is not null)
                    {
                        relayCpu[name].Add(cpu.Spent()[0].Milliseconds / 1000 / gigabytes);
                    }
                    if (name == PathNames.Jumpgate)
                    {
                        proxyPerGb.Add(ProxyCpu.CpuSeconds(proxyLog) / gigabytes);
                    }
                }
            }
            say($"scp: {string.Join(", ", rates.Select(r => $"{r.Key} {Table.F(Stats.Median(r.Value))} Gbit/s"))}; jumpgate proxy {Table.F(Stats.Median(proxyPerGb))} s of CPU per GB");

            var figure = $"`scp` of {plan.ScpMebibytes} MiB";
            var bastion = Stats.Median(rates[SshTrue.Bastion]);
            var noHop = Stats.Median(rates[SshTrue.Direct]);
            string Result(string name) => $"{Table.F(Stats.Median(rates[name]))} Gbit/s (n = {rates[name].Count})"
                + (relayCpu.TryGetValue(name, out var seconds) ? $", the relays' CPU {Table.F(Stats.Median(seconds))} s per GB" : "");
            foreach (var name in rates.Keys.Where(n => n != PathNames.Jumpgate))
            {
                var rate = Stats.Median(rates[name]);
                table.Add(new Row(figure, name, Result(name), name is SshTrue.Direct or SshTrue.Bastion ? "" : $"{Table.F(rate / noHop)} × no hop, {Table.F(rate / bastion)} × ssh -J"));
            }
            var ours = Stats.Median(rates[PathNames.Jumpgate]);
            table.Check(figure, Result(PathNames.Jumpgate), ours / noHop, "scp with no hop", "≥ 0.9 ×", atMost: false, 0.9);
            table.Check(figure, Result(PathNames.Jumpgate), ours / bastion, "ssh -J", "≥ 1.8 ×", atMost: false, 1.8);
            if (shape is not null)
            {
                var ceiling = Stats.Median(rates[CShape]);
                table.Note($"`scp` in C of Jumpgate's shape (ssh dials a relay that splices, as the gateway does, to a second, as the agent, to sshd; HAProxy, one thread each) moved {Table.F(ceiling / noHop)} × no hop, {Table.F(ceiling / bastion)} × ssh -J; Jumpgate moved {Table.F(ours / ceiling)} × that shape. A target above the shape's figure is out of reach for it on this machine.");
            }
            const string proxyFigure = "`jumpgate proxy` CPU per GB on the SSH path";
            table.Check(proxyFigure, $"{Table.F(Stats.Median(proxyPerGb))} s/GB (n = {proxyPerGb.Count})", Stats.Median(proxyPerGb) / 1.6, "1.6 s/GB (the first round's)", "≤ 0.5 ×", atMost: true, 0.5);
            table.Note("`jumpgate proxy` CPU: user + system time of the ProxyCommand process (bash's `times` in a wrapper that waits for it) over the scp figure's runs through **Jumpgate**, per GB of the file; with fdpass the process exits once ssh holds the leg, so what it spends does not grow with the file. " +
                "1.6 s per GB is what `proxy` spent relaying stdin and stdout in the first performance round, the shape before fdpass.");
            table.Note($"`scp`: a {plan.ScpMebibytes} MiB file of random bytes to the target's /dev/null (OpenSSH's SFTP mode, default cipher), {plan.ScpRuns} runs each, alternated, medians; wall time of the whole scp, its login included.");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    internal const string CShape = "ssh through 2 relays that splice (C in Jumpgate's shape; HAProxy)";
}
