using System.Diagnostics;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 4: `jumpgate proxy node1 echo` from spawn to first byte: spawn it, write one byte to its
/// stdin, time until the echo server's copy comes back on its stdout. The judged row is `proxy`
/// with no path option, as users run it (direct legs, TLS end to end with the agent, for a
/// service that is not `ssh`); `--trunk` (one connection, the gateway's TLS) is a reference. Beside it, socat doing the same
/// stdio bridge with no TLS (what a C program costs), and `jumpgate --version` (the runtime's start alone).
/// The judged row runs `jumpgate` as the README installs it for users, a Native AOT binary
/// (bench/run publishes one); the build the tests use (JIT) is measured beside it for reference.
/// </summary>
internal static class ProxyStartup
{
    private const string Socat = "socat STDIO (C, no TLS)";
    private const string Version = "`jumpgate --version` (start-up only)";
    private const string Jit = "`jumpgate proxy`, JIT build (reference)";
    private const string Trunk = "`jumpgate proxy --trunk` (reference only: one connection, the gateway's TLS)";

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var jit = TestSupport.Jumpgate.Built;
        var jumpgate = rig.NativeJumpgate ?? jit;
        var runs = new List<(string Name, string Program, string[] Arguments, bool Echo)>
        {
            (Version, jumpgate, ["--version"], false),
            (Socat, "socat", ["STDIO", $"TCP:127.0.0.1:{rig.Echo.Port}"], true),
            (PathNames.Jumpgate, jumpgate, ["proxy", "node1", "echo"], true),
            (Trunk, jumpgate, ["proxy", "--trunk", "node1", "echo"], true),
        };
        if (rig.NativeJumpgate is not null)
        {
            runs.Add((Jit, jit, ["proxy", "node1", "echo"], true));
        }
        var times = runs.ToDictionary(r => r.Name, _ => new List<double>());
        var stuck = runs.ToDictionary(r => r.Name, _ => 0);
        // One unmeasured run each: the first start of a program pays for the page cache.
        for (var i = -1; i < plan.ProxyStartRuns; i++)
        {
            foreach (var (name, program, arguments, echo) in runs)
            {
                var (elapsed, exited) = await TimeAsync(name, program, arguments, echo, rig.Jumpgate.ClientEnvironment);
                stuck[name] += exited ? 0 : 1;
                if (i >= 0)
                {
                    times[name].Add(elapsed);
                }
            }
        }
        say($"proxy start-up: {string.Join(", ", times.Select(t => $"{t.Key} {Table.F(Stats.Median(t.Value))} ms"))}");

        const string figure = "`jumpgate proxy` start-up to first byte";
        string Result(string name) => $"{Table.F(Stats.Median(times[name]))} ms (p90 {Table.F(Stats.Percentile(times[name], 90))}, n = {times[name].Count})";
        table.Add(new Row(figure, Version, Result(Version)));
        table.Add(new Row(figure, Socat, Result(Socat)));
        table.Add(new Row(figure, Trunk, Result(Trunk)));
        if (rig.NativeJumpgate is not null)
        {
            table.Add(new Row(figure, Jit, Result(Jit)));
        }
        table.Note(rig.NativeJumpgate is null
            ? "`jumpgate proxy` start-up: this run had no Native AOT build (bench/run publishes one for the full run), so it timed the JIT build."
            : "`jumpgate proxy` start-up: the judged row is the Native AOT binary the README installs, with no path option (a connection to the gateway, then a direct leg and TLS with the agent); `--version` is the same binary.");
        var median = Stats.Median(times[PathNames.Jumpgate]);
        foreach (var (name, count) in stuck.Where(s => s.Value > 0))
        {
            table.Note($"`jumpgate proxy` start-up: {count} of {plan.ProxyStartRuns + 1} runs of {name} had not exited 2 s after their stdin closed and were killed (not part of the time to first byte).");
        }
        table.CheckAbsolute(figure, Result(PathNames.Jumpgate), median, $"{Table.F(median / Stats.Median(times[Socat]))} × socat", "≤ 20 ms", 20);
    }

    /// <summary>Spawn to first echoed byte (or, for a program that echoes nothing, spawn to exit), in milliseconds; and whether it exited once its stdin closed.</summary>
    private static async Task<(double Milliseconds, bool Exited)> TimeAsync(string name, string program, string[] arguments, bool echo, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            if (!echo)
            {
                await process.WaitForExitAsync(deadline.Token);
                return (clock.Elapsed.TotalMilliseconds, true);
            }
            var sent = (byte)Random.Shared.Next(1, 255);
            await process.StandardInput.BaseStream.WriteAsync(new[] { sent }, deadline.Token);
            await process.StandardInput.BaseStream.FlushAsync(deadline.Token);
            var back = new byte[1];
            var read = await process.StandardOutput.BaseStream.ReadAsync(back, deadline.Token);
            var elapsed = clock.Elapsed.TotalMilliseconds;
            if (read != 1 || back[0] != sent)
            {
                throw new InvalidOperationException($"{name} did not echo the byte it was given; stderr: {await stderr}");
            }
            process.StandardInput.Close();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await process.WaitForExitAsync(exit.Token);
            }
            catch (OperationCanceledException)
            {
                // Not part of the figure; counted and reported beside it.
                process.Kill();
                return (elapsed, false);
            }
            return (elapsed, true);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new InvalidOperationException($"{name} did not answer within 15 s");
        }
    }
}
