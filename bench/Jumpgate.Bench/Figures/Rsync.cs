using System.Diagnostics;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// `rsync -a` of a directory of many small files (a dataset's annotations, a code tree) to the same
/// target sshd, through the default `ssh-config`, with no hop, through `ssh -J` and through C in
/// Jumpgate's shape (two HAProxy relays that splice, as the scp figure has): wall time, where
/// each file costs round trips more than bytes. The files are the same every run (a fixed seed).
/// </summary>
internal static class Rsync
{
    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var (files, rounds) = plan.JudgeTargets ? (2000, 3) : (100, 1);
        var ways = (await SshTrue.WaysAsync(rig)).Where(w => w.Name is SshTrue.Direct or SshTrue.Bastion or PathNames.Jumpgate).ToArray();
        // C in Jumpgate's shape, as the scp figure has it: ssh through two relays that splice, HAProxy.
        await using var shape = HaProxyChain.Executable is null ? null : await HaProxyChain.StartAsync(rig.Ssh.Target.Port, relays: 2);
        if (shape is not null)
        {
            ways = [.. ways, new SshTrue.Way(Scp.CShape, ["-F", rig.Ssh.Config(), "-o", $"Port={shape.Port}"], "target", null)];
        }
        var directory = Directory.CreateTempSubdirectory("jumpgate-bench-rsync-");
        try
        {
            var source = Path.Combine(directory.FullName, "source");
            var bytes = await WriteFilesAsync(source, files);
            var times = ways.ToDictionary(w => w.Name, _ => new List<double>());
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < ways.Length; i++)
                {
                    var (name, options, host, environment) = ways[i];
                    var destination = Path.Combine(directory.FullName, $"copy-{round}-{i}");
                    var clock = Stopwatch.StartNew();
                    var result = await Command.RunAsync("rsync", ["-a", "-e", string.Join(' ', ["ssh", .. options]), source + "/", $"{host}:{destination}/"],
                        Signals.Timeout(300), environment);
                    var seconds = clock.Elapsed.TotalSeconds;
                    if (result.ExitCode != 0)
                    {
                        throw new InvalidOperationException($"rsync through {name} failed: {result}");
                    }
                    var copied = Directory.GetFiles(destination, "*", SearchOption.AllDirectories);
                    if (copied.Length != files || copied.Sum(f => new FileInfo(f).Length) != bytes)
                    {
                        throw new InvalidOperationException($"rsync through {name} copied {copied.Length} files of {files}");
                    }
                    Directory.Delete(destination, recursive: true);
                    times[name].Add(seconds);
                }
            }
            say($"rsync: {string.Join(", ", times.Select(t => $"{t.Key} {Table.F(Stats.Median(t.Value))} s"))}");

            var figure = $"`rsync -a` of {files:N0} small files";
            string Result(string name) => $"{Table.F(Stats.Median(times[name]))} s (n = {times[name].Count})";
            var noHop = Stats.Median(times[SshTrue.Direct]);
            table.Add(new Row(figure, SshTrue.Direct, Result(SshTrue.Direct)));
            table.Add(new Row(figure, SshTrue.Bastion, Result(SshTrue.Bastion), $"{Table.F(Stats.Median(times[SshTrue.Bastion]) / noHop)} × no hop"));
            if (shape is not null)
            {
                var inShape = Stats.Median(times[Scp.CShape]);
                table.Add(new Row(figure, Scp.CShape, Result(Scp.CShape), $"{Table.F(inShape / noHop)} × no hop"));
                table.Note($"`rsync` in C of Jumpgate's shape (the scp figure's two HAProxy relays) took {Table.F(inShape / noHop)} × no hop; Jumpgate took {Table.F(Stats.Median(times[PathNames.Jumpgate]) / inShape)} × that shape.");
            }
            table.Check(figure, Result(PathNames.Jumpgate), Stats.Median(times[PathNames.Jumpgate]) / noHop, "no hop", "≤ 1.1 ×", atMost: true, 1.1);
            table.Note($"`rsync`: {files:N0} files of 1–8 KiB ({bytes / 1024.0 / 1024:0.0} MiB, 20 folders, a fixed seed) to a fresh folder on the target each time, `rsync -a -e 'ssh …'`; wall time, login included; {rounds} rounds, ways alternated, medians.");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>The same files every run: sizes and bytes from a fixed seed. Returns their total size.</summary>
    private static async Task<long> WriteFilesAsync(string root, int count)
    {
        var random = new Random(2026);
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            var folder = Path.Combine(root, $"part-{i % 20:00}");
            Directory.CreateDirectory(folder);
            var content = new byte[random.Next(1024, 8 * 1024 + 1)];
            random.NextBytes(content);
            await File.WriteAllBytesAsync(Path.Combine(folder, $"sample-{i:0000}.bin"), content);
            total += content.Length;
        }
        return total;
    }
}
