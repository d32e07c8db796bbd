using System.Diagnostics;
using System.Security.Cryptography;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Reference figure, no target: `scp` of a checkpoint-sized file to the same target sshd, through
/// each way `ssh host true` takes. It is what users do with the tunnel and, unlike the bulk
/// figure's `forward`, it goes through `jumpgate proxy` with SSH's own encryption inside.
/// </summary>
internal static class Scp
{
    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var ways = await SshTrue.WaysAsync(rig);
        var directory = Directory.CreateTempSubdirectory("jumpgate-bench-scp-");
        try
        {
            var file = Path.Combine(directory.FullName, "checkpoint.bin");
            await File.WriteAllBytesAsync(file, RandomNumberGenerator.GetBytes(plan.ScpMebibytes << 20));
            var rates = ways.ToDictionary(w => w.Name, _ => new List<double>());
            for (var i = 0; i < plan.ScpRuns; i++)
            {
                foreach (var (name, options, host, environment) in ways)
                {
                    var clock = Stopwatch.StartNew();
                    var result = await Command.RunAsync("scp", [.. options, "-q", file, $"{host}:/dev/null"], Signals.Timeout(120), environment);
                    var seconds = clock.Elapsed.TotalSeconds;
                    if (result.ExitCode != 0)
                    {
                        throw new InvalidOperationException($"scp through {name} failed: {result}");
                    }
                    rates[name].Add(plan.ScpMebibytes * 8.0 * 1024 * 1024 / 1e9 / seconds);
                }
            }
            say($"scp: {string.Join(", ", rates.Select(r => $"{r.Key} {Table.F(Stats.Median(r.Value))} Gbit/s"))}");

            var figure = $"`scp` of {plan.ScpMebibytes} MiB (reference, no target)";
            var bastion = Stats.Median(rates[SshTrue.Bastion]);
            foreach (var (name, measured) in rates)
            {
                var rate = Stats.Median(measured);
                table.Add(new Row(figure, name, $"{Table.F(rate)} Gbit/s (n = {measured.Count})", name is SshTrue.Direct or SshTrue.Bastion ? "" : $"{Table.F(rate / bastion)} × ssh -J"));
            }
            table.Note($"`scp`: a {plan.ScpMebibytes} MiB file of random bytes to the target's /dev/null (OpenSSH's SFTP mode, default cipher), {plan.ScpRuns} runs each, alternated, medians; wall time of the whole scp, its login included.");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
