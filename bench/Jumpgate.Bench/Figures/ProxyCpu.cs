using System.Globalization;
using System.Security.Cryptography;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// `jumpgate proxy`'s CPU per GB on the SSH path: scp of 1 GiB through the default `ssh-config`
/// (plain legs, the leg handed to ssh with ProxyUseFdpass) and through the same with `proxy`
/// relaying stdin and stdout, as before. ProxyCommand runs inside a small bash wrapper that waits
/// for it and appends bash's `times` for its children (user, system); with fdpass that is the
/// proxy's start-up and the leg's handshake, whatever the file's size.
/// </summary>
internal static class ProxyCpu
{
    /// <summary>
    /// Runs the command it is given as ProxyCommand would, waits for it and logs its CPU time. ssh
    /// sends a relaying ProxyCommand SIGHUP as it exits: passed on, and waited out, so the time is
    /// still counted. A background job's stdin would be /dev/null without the explicit 0&lt;&amp;0, and
    /// `times` in a pipe would run in a subshell that has no children to count.
    /// </summary>
    private const string Wrapper = """
        #!/bin/bash
        log="$1"; shift
        trap 'kill -HUP "$proxy" 2>/dev/null' HUP
        "$@" 0<&0 &
        proxy=$!
        while ! wait "$proxy"; do kill -0 "$proxy" 2>/dev/null || break; done
        { times; } >> "$log"

        """;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var (mebibytes, runs) = plan.JudgeTargets ? (1024, 2) : (4, 1);
        var jumpgate = (await SshTrue.WaysAsync(rig)).Single(w => w.Name == PathNames.Jumpgate);
        var directory = Directory.CreateTempSubdirectory("jumpgate-bench-proxy-cpu-");
        try
        {
            var wrapper = Path.Combine(directory.FullName, "timed-proxy");
            await File.WriteAllTextAsync(wrapper, Wrapper);
            var file = Path.Combine(directory.FullName, "checkpoint.bin");
            await File.WriteAllBytesAsync(file, RandomNumberGenerator.GetBytes(mebibytes << 20));
            (string Name, string Config, string Log)[] ways =
            [
                (PathNames.Jumpgate, jumpgate.Options[1], Path.Combine(directory.FullName, "fdpass.log")),
                (Scp.Relaying, await Scp.RelayingConfigAsync(jumpgate.Options[1]), Path.Combine(directory.FullName, "relaying.log")),
            ];
            var perGb = ways.ToDictionary(w => w.Name, _ => new List<double>());
            var serverPerGb = new Dictionary<string, List<double>> { ["gateway"] = [], ["agent"] = [] };
            for (var i = 0; i < runs; i++)
            {
                foreach (var (name, config, log) in ways)
                {
                    var timed = await TimedConfigAsync(config, wrapper, log);
                    File.Delete(log);
                    var servers = new ProcessCpu([.. rig.Jumpgate.Roles.Take(2)]);
                    var result = await Command.RunAsync("scp", ["-F", timed, "-q", file, $"{jumpgate.Host}:/dev/null"], Signals.Timeout(300), jumpgate.Environment);
                    foreach (var (role, milliseconds) in servers.Spent())
                    {
                        serverPerGb[role].Add(milliseconds / 1000 / ((double)(mebibytes << 20) / 1e9));
                    }
                    if (result.ExitCode != 0)
                    {
                        throw new InvalidOperationException($"scp through {name} failed: {result}");
                    }
                    perGb[name].Add(CpuSeconds(log) / ((double)(mebibytes << 20) / 1e9));
                }
            }
            say($"proxy CPU per GB: {string.Join(", ", perGb.Select(p => $"{p.Key} {Table.F(Stats.Median(p.Value))} s"))}; "
                + $"on the plain legs, both ways together: {string.Join(", ", serverPerGb.Select(p => $"{p.Key} {Table.F(Stats.Median(p.Value))} s"))}");

            const string figure = "`jumpgate proxy` CPU per GB on the SSH path";
            string Result(string name) => $"{Table.F(Stats.Median(perGb[name]))} s/GB (n = {perGb[name].Count})";
            table.Add(new Row(figure, Scp.Relaying, Result(Scp.Relaying)));
            table.Check(figure, Result(PathNames.Jumpgate), Stats.Median(perGb[PathNames.Jumpgate]) / 1.6, "1.6 s/GB (first round)", "≤ 0.5 ×", atMost: true, 0.5);
            table.Note($"`jumpgate proxy` CPU: user + system time of the ProxyCommand process (bash's `times` in a wrapper that waits for it) during `scp` of {mebibytes} MiB to /dev/null, {runs} runs each, alternated, medians; with fdpass the process exits once ssh holds the leg, so what it spends does not grow with the file. "
                + $"The gateway's and the agent's CPU per GB over the same runs (both ways alike): {string.Join(", ", serverPerGb.Select(p => $"{p.Key} {Table.F(Stats.Median(p.Value))} s"))}.");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>The config with its ProxyCommand run by the wrapper, which appends the proxy's CPU time to <paramref name="log"/>.</summary>
    private static async Task<string> TimedConfigAsync(string config, string wrapper, string log)
    {
        var lines = (await File.ReadAllLinesAsync(config)).Select(line => line.TrimStart().StartsWith("ProxyCommand ", StringComparison.Ordinal)
            ? line.Replace("ProxyCommand ", $"ProxyCommand /bin/bash {wrapper} {log} ", StringComparison.Ordinal)
            : line);
        var timed = config + ".timed";
        await File.WriteAllLinesAsync(timed, lines);
        return timed;
    }

    /// <summary>
    /// The proxy's user + system seconds: bash's `times` writes two lines, the shell's own and its
    /// children's ("0m0.120s 0m0.030s"); the second of each pair is the proxy's.
    /// </summary>
    private static double CpuSeconds(string log) => File.ReadAllLines(log)
        .Where(line => line.Contains('m', StringComparison.Ordinal))
        .Where((_, i) => i % 2 == 1)
        .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Sum(field =>
        {
            var minutes = field.IndexOf('m', StringComparison.Ordinal);
            return double.Parse(field[..minutes], CultureInfo.InvariantCulture) * 60 + double.Parse(field[(minutes + 1)..^1], CultureInfo.InvariantCulture);
        });
}
