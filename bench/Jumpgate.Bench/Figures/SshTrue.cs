using System.Diagnostics;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 3: wall time of `ssh host true`, to the same target sshd: through `jumpgate proxy` as
/// ProxyCommand (the ssh_config `jumpgate ssh-config` writes) against `ssh -J` through an OpenSSH
/// bastion, with a direct `ssh target true` as the floor. No ControlMaster anywhere; default cipher.
/// </summary>
internal static class SshTrue
{
    internal const string Direct = "ssh (direct, no hop)";
    internal const string Bastion = "ssh -J (OpenSSH bastion)";

    /// <summary>One way to the target: the options that pick it (config, jump host) and the host name it uses.</summary>
    internal sealed record Way(string Name, string[] Options, string Host, IReadOnlyDictionary<string, string>? Environment);

    /// <summary>Every way to the same target sshd, each checked to reach it and run a command there (which also records the host keys).</summary>
    internal static async Task<Way[]> WaysAsync(Rig rig)
    {
        // ProxyCommand runs `jumpgate` as installed for users: the Native AOT binary when bench/run built one.
        var jumpgateConfig = await rig.Jumpgate.Deployment.WriteSshConfigAsync(rig.Ssh.Target, rig.NativeJumpgate);
        var sshConfig = rig.Ssh.Config();
        Way[] ways =
        [
            new(Direct, ["-F", sshConfig], "target", null),
            new(Bastion, ["-F", sshConfig, "-J", "bastion"], "target", null),
            new(PathNames.Jumpgate, ["-F", jumpgateConfig], "node1.jg", rig.Jumpgate.ClientEnvironment),
        ];
        foreach (var way in ways)
        {
            var check = await Command.RunAsync("ssh", [.. way.Options, way.Host, "echo", "reached-target"], Signals.Timeout(60), way.Environment);
            if (check.ExitCode != 0 || check.Stdout.Trim() != "reached-target")
            {
                throw new InvalidOperationException($"ssh through {way.Name} did not reach the target: {check}");
            }
        }
        return ways;
    }

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var runs = await WaysAsync(rig);
        var times = runs.ToDictionary(r => r.Name, _ => new List<double>());
        for (var i = 0; i < plan.SshTrueRuns; i++)
        {
            foreach (var (name, options, host, environment) in runs)
            {
                var clock = Stopwatch.StartNew();
                var result = await Command.RunAsync("ssh", [.. options, host, "true"], Signals.Timeout(60), environment);
                var elapsed = clock.Elapsed.TotalMilliseconds;
                if (result.ExitCode != 0)
                {
                    throw new InvalidOperationException($"ssh through {name} failed: {result}");
                }
                times[name].Add(elapsed);
            }
        }
        say($"ssh host true: {string.Join(", ", times.Select(t => $"{t.Key} {Table.F(Stats.Median(t.Value))} ms"))}");

        const string figure = "`ssh host true`";
        string Result(string name) => $"{Table.F(Stats.Median(times[name]))} ms (n = {times[name].Count})";
        table.Add(new Row(figure, Direct, Result(Direct)));
        table.Add(new Row(figure, Bastion, Result(Bastion)));
        table.Check(figure, Result(PathNames.Jumpgate), Stats.Median(times[PathNames.Jumpgate]) / Stats.Median(times[Bastion]), "ssh -J", "≤ 1.0 ×", atMost: true, 1.0);
        var floor = Stats.Median(times[Direct]);
        table.Note($"`ssh host true`: the direct row is the floor every way pays (the target's sshd and the login shell: on a machine where root's ~/.bashrc runs `pyenv init`, that alone is most of a second). " +
            $"What the hop adds over it: Jumpgate +{Table.F(Stats.Median(times[PathNames.Jumpgate]) - floor)} ms, ssh -J +{Table.F(Stats.Median(times[Bastion]) - floor)} ms. Default cipher, no ControlMaster, {plan.SshTrueRuns} runs each, alternated; ProxyCommand runs the {(rig.NativeJumpgate is null ? "JIT build" : "Native AOT binary")} of `jumpgate`.");
    }
}
