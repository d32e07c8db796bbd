using System.Globalization;
using System.Text.Json;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// The gateway's CPU per GB relayed on the direct path, its legs spliced in the kernel (the
/// default, <c>direct_relay: splice</c>), against a plain socat relay's (8 KiB copies, as the
/// guides run it) moving the same iperf3 stream, alternated within each round. Named alone
/// (`--only=relay`), it also runs a gateway that copies through Kestrel's pipes (<c>copy</c>).
/// CPU is the relay process's own (a socat child's is counted once socat has reaped it), divided
/// by the bytes iperf3's receiver counted.
/// </summary>
internal static class DirectRelay
{
    /// <summary>The figure's name in bench/run's list, which `--only=relay` matches.</summary>
    public const string Figure = "direct relay";

    private const string Splice = "gateway, direct_relay: splice";
    private const string Copy = "gateway, direct_relay: copy";
    private const string Socat = "socat relay";

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        // An iperf3 server per relay: one serves a test at a time, and a relay's tail may still drain when the next test starts.
        var (splicedSink, copiedSink, socatSink) = (Ports.Free(), Ports.Free(), Ports.Free());
        await using var sinks = new ProcessGroup();
        foreach (var port in new[] { splicedSink, copiedSink, socatSink })
        {
            var server = sinks.Add(ChildProcess.Start($"iperf3 -s {port}", "iperf3", ["-s", "-B", "127.0.0.1", "-p", $"{port}"], null));
            await Ports.WaitListeningAsync(port, "iperf3 -s", server, Signals.Timeout(20));
        }
        // Copying against splicing was decided (docs/decisions.md, "Direct legs are spliced in the kernel"): measured again only when asked for.
        var withCopy = plan.Named(Figure);
        await using var spliced = await JumpgateRig.StartAsync(new Dictionary<string, int> { [JumpgateRig.IperfService] = splicedSink });
        await using var copied = withCopy ? await JumpgateRig.StartAsync(new Dictionary<string, int> { [JumpgateRig.IperfService] = copiedSink }, gatewayYaml: "direct_relay: copy") : null;
        var socatPort = Ports.Free();
        await using var socat = ChildProcess.Start("socat relay", "socat", [$"TCP-LISTEN:{socatPort},bind=127.0.0.1,reuseaddr,fork", $"TCP:127.0.0.1:{socatSink}"], null);
        await Ports.WaitListeningAsync(socatPort, "socat relay", socat, Signals.Timeout(20));

        var relays = new List<(string Name, int Port, int Pid)> { (Splice, await spliced.ForwardAsync(JumpgateRig.IperfService, ForwardPath.Direct), spliced.Gateway.Id) };
        if (copied is not null)
        {
            relays.Add((Copy, await copied.ForwardAsync(JumpgateRig.IperfService, ForwardPath.Direct), copied.Gateway.Id));
        }
        relays.Add((Socat, socatPort, socat.Id));
        var perGigabyte = relays.ToDictionary(r => r.Name, _ => new List<double>());
        var rates = relays.ToDictionary(r => r.Name, _ => new List<double>());
        var rounds = withCopy ? 2 * plan.BulkRounds : plan.BulkRounds;
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var (name, port, pid) in relays)
            {
                var before = Ticks(pid);
                var (bytes, seconds) = await IperfAsync(port, seconds: 2 * plan.BulkSeconds);
                await ChildrenReapedAsync(pid);
                var cpuSeconds = (Ticks(pid) - before) / TicksPerSecond;
                perGigabyte[name].Add(cpuSeconds / (bytes / 1e9));
                rates[name].Add(bytes * 8 / seconds / 1e9);
                say($"direct relay, round {round}/{rounds}: {name} {Table.F(cpuSeconds / (bytes / 1e9))} s of CPU per GB at {Table.F(bytes * 8 / seconds / 1e9)} Gbit/s");
            }
        }
        string Result(string name) => $"{Table.F(Stats.Median(perGigabyte[name]))} s of CPU per GB ({Table.F(perGigabyte[name].Min())}–{Table.F(perGigabyte[name].Max())}), at {Table.F(Stats.Median(rates[name]))} Gbit/s";
        const string figure = "the gateway's CPU per GB relayed, direct legs";
        table.Add(new Row(figure, Socat, Result(Socat)));
        table.Check(figure, Result(Splice), Stats.Median(perGigabyte[Splice]) / Stats.Median(perGigabyte[Socat]), Socat, "≤ 1.0 ×", atMost: true, 1.0);
        if (withCopy)
        {
            table.Add(new Row(figure, Copy, Result(Copy), $"{Table.F(Stats.Median(perGigabyte[Copy]) / Stats.Median(perGigabyte[Socat]))} × {Socat}"));
        }
        table.Note($"Gateway relay: iperf3 -c … -t {2 * plan.BulkSeconds} through `forward --direct` to a gateway of its own (**Jumpgate**: its product defaults, direct legs spliced in the kernel{(withCopy ? "; beside it one with `direct_relay: copy`, through Kestrel's pipes" : "")}) and through a plain socat relay, alternated within each of {rounds} rounds; each relay process's CPU (utime + stime + its reaped children's, /proc/PID/stat) per GB the receiver counted, median (min–max). " +
            "The gateway relays raw legs (`ssh` on plain legs), direct legs and a direct session's legs with the same splice; raw legs carry only SSH, so the scp figure's relays' CPU covers them.");
    }

    /// <summary>USER_HZ, which Linux fixes at 100 for /proc.</summary>
    private const double TicksPerSecond = 100.0;

    /// <summary>utime, stime, cutime and cstime of /proc/PID/stat: a process's CPU and its reaped children's (socat forks one per connection).</summary>
    private static long Ticks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return Enumerable.Range(11, 4).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
    }

    /// <summary>Waits (bounded) until the relay has reaped its children, so that socat's child for this test is counted in this test.</summary>
    private static async Task ChildrenReapedAsync(int pid)
    {
        var deadline = DateTime.UtcNow + Signals.Timeout(10);
        while (File.ReadAllText($"/proc/{pid}/task/{pid}/children").Trim().Length > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"relay {pid} still has children 10 s after its test ended");
            }
            await Task.Delay(20);
        }
    }

    private static async Task<(double Bytes, double Seconds)> IperfAsync(int port, int seconds)
    {
        var result = await Command.RunAsync("iperf3", ["-c", "127.0.0.1", "-p", $"{port}", "-t", $"{seconds}", "-J", "--connect-timeout", "10000"], TimeSpan.FromSeconds(seconds + 30));
        using var json = JsonDocument.Parse(result.Stdout.Length > 0 ? result.Stdout : "{}");
        if (!json.RootElement.TryGetProperty("end", out var end) || !end.TryGetProperty("sum_received", out var received))
        {
            throw new InvalidOperationException($"iperf3 through port {port} failed: {result}");
        }
        return (received.GetProperty("bytes").GetDouble(), received.GetProperty("seconds").GetDouble());
    }

    /// <summary>Child processes disposed together.</summary>
    private sealed class ProcessGroup : IAsyncDisposable
    {
        private readonly List<ChildProcess> _processes = [];

        public ChildProcess Add(ChildProcess process)
        {
            _processes.Add(process);
            return process;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var process in _processes)
            {
                await process.DisposeAsync();
            }
        }
    }
}
