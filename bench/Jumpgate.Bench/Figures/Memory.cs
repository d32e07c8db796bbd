using System.Net.Sockets;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 5: resident memory (VmRSS) per idle tunneled connection. Jumpgate: the gateway and the
/// agent of a deployment of its own, started for this figure, reached through `forward` on its
/// default path (a direct session); OpenSSH: the relay sshd (listener and every
/// per-connection process) plus the agent-side ssh -R client, also a fresh session. Each opens N
/// connections to the echo service, proves each one with a 64-byte echo, leaves them idle, and
/// weighs the processes again; per connection = (after − before) / N.
/// </summary>
internal static class Memory
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    /// <summary>The gateway's `trunks.max_streams` for this figure: above the connections it holds open (the default, 256, caps a direct session too).</summary>
    private const int MaxStreams = 2000;

    /// <summary>Connections opened and closed through each path before its baseline is taken.</summary>
    private const int WarmUp = 300;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var n = plan.IdleConnections;

        // OpenSSH: a fresh agent-side ssh -R, so its session process starts clean too.
        var port = Ports.Free();
        var client = await rig.Ssh.TunnelAsync("ssh -R (memory)", ["-N", "-R", $"127.0.0.1:{port}:127.0.0.1:{rig.Echo.Port}", "relay"], port);
        IReadOnlyList<int> SshPids() =>
            [.. Processes.WithCommandLine(OpenSsh.ConfigPathOf(rig.Ssh.Relay)).SelectMany(Processes.Tree).Append(client.Id).Distinct()];
        var ssh = await WeighAsync("ssh -R", port, n, SshPids, () => [], () => [client.Id]);
        say($"memory: ssh -R {Table.F(ssh.PerConnection)} KiB per connection ({ssh.Opened} opened)");

        // Jumpgate: a fresh gateway and agent, as after a deploy. One direct session holds all of `forward`'s connections,
        // and a session holds at most trunks.max_streams of them (256 by default): raised so that all of them open.
        await using var fresh = await JumpgateRig.StartAsync(new Dictionary<string, int> { ["echo"] = rig.Echo.Port }, gatewayYaml: $"trunks:\n  max_streams: {MaxStreams}");
        var forward = await fresh.ForwardAsync("echo");
        var gatewayPid = fresh.Gateway.Id;
        var jumpgate = await WeighAsync("Jumpgate", forward, n, () => fresh.ServerPids, () => fresh.ForwarderPids, () => [gatewayPid]);
        say($"memory: Jumpgate {Table.F(jumpgate.PerConnection)} KiB per connection ({jumpgate.Opened} opened)");

        var figure = $"memory per idle connection ({n} open)";
        table.Add(new Row(figure, "ssh -R (sshd + ssh)", ssh.Describe() + $"; of it the ssh client {Table.F(ssh.PartPerConnection)} KiB"));
        table.Check(figure, jumpgate.Describe() + $"; of it the gateway {Table.F(jumpgate.PartPerConnection)} KiB", jumpgate.PerConnection / ssh.PerConnection,
            "ssh -R (sshd + ssh)", "≤ 0.3 ×", atMost: true, 0.3);
        table.Note($"Memory: VmRSS from /proc/PID/status summed over the processes, measured {Settle.TotalSeconds:0} s after the last connection opened, the baseline after {WarmUp} connections opened and closed through each path (a fresh .NET process compiles its stream path over its first streams: a cost of the process, not of each connection); Jumpgate counts the gateway and the agent (fresh processes, the connections carried by `forward` on its default path, one direct session; the gateway's `trunks.max_streams` raised from 256 to {MaxStreams} for this figure, since a session holds at most that many streams). " +
            $"The client's `jumpgate forward` (not counted; ssh -R needs no client process) grew by {Table.F((jumpgate.OthersAfterKiB - jumpgate.OthersBeforeKiB) / (double)Math.Max(1, jumpgate.Opened))} KiB per connection.");
    }

    /// <summary>What the weighed processes held before and after; Others are processes reported but not counted.</summary>
    internal sealed record Weight(long BeforeKiB, long AfterKiB, int Opened, int Asked, long OthersBeforeKiB, long OthersAfterKiB, long PartBeforeKiB, long PartAfterKiB)
    {
        public double PerConnection => (AfterKiB - BeforeKiB) / (double)Math.Max(1, Opened);

        /// <summary>The share of one of the weighed processes (the gateway; the ssh client).</summary>
        public double PartPerConnection => (PartAfterKiB - PartBeforeKiB) / (double)Math.Max(1, Opened);

        public string Describe() =>
            $"{Table.F(PerConnection)} KiB ({Table.F(BeforeKiB / 1024.0)} → {Table.F(AfterKiB / 1024.0)} MiB)" + (Opened < Asked ? $", **only {Opened} of {Asked} opened**" : "");
    }

    internal static async Task<Weight> WeighAsync(string what, int port, int n, Func<IReadOnlyList<int>> pids, Func<IReadOnlyList<int>> others, Func<IReadOnlyList<int>> part)
    {
        // Every path carries WarmUp connections (opened and closed) before the baseline: a fresh
        // .NET process compiles its stream path's code (JIT tiers) over its first streams, which
        // is a one-off cost of the process, not a cost of each connection.
        await Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < WarmUp; i++)
            {
                EchoProbe.OpenIdle(port, new byte[64])?.Dispose();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.Delay(Settle);
        var before = Processes.RssKiB(pids());
        var othersBefore = Processes.RssKiB(others());
        var partBefore = Processes.RssKiB(part());
        var open = new List<Socket>(n);
        try
        {
            await Task.Factory.StartNew(() =>
            {
                var payload = new byte[64];
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var failedInARow = 0;
                for (var i = 0; i < n && clock.Elapsed < TimeSpan.FromSeconds(60) && failedInARow < 20; i++)
                {
                    Random.Shared.NextBytes(payload);
                    if (EchoProbe.OpenIdle(port, payload) is { } socket)
                    {
                        open.Add(socket);
                        failedInARow = 0;
                    }
                    else
                    {
                        failedInARow++;
                    }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (open.Count == 0)
            {
                throw new InvalidOperationException($"{what}: no connection could be opened through 127.0.0.1:{port}");
            }
            await Task.Delay(Settle);
            var after = Processes.RssKiB(pids());
            return new Weight(before, after, open.Count, n, othersBefore, Processes.RssKiB(others()), partBefore, Processes.RssKiB(part()));
        }
        finally
        {
            foreach (var socket in open)
            {
                socket.Dispose();
            }
        }
    }
}
