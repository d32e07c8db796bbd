using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>
/// A stress harness for a rare hang: a new connection through `forward --trunk`, on a gateway that
/// holds a thousand idle streams, that never gets its echo. It runs only when
/// <c>JUMPGATE_STRESS_CONNECTIONS</c> says how many connections to make (it takes minutes); each is
/// opened, echoes 64 bytes and closes, back to back, as the benchmark's new-connection figure does.
/// A round trip slower than <see cref="Slow"/> is reported with the stacks of the gateway, the agent
/// and `forward` taken while it is still stuck (dotnet-stack, when installed).
/// </summary>
public sealed class NewStreamsBesideIdleOnesStressTests(ITestOutputHelper output)
{
    private const int Agents = 2;
    private const int Idle = 1000;
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan GiveUp = TimeSpan.FromSeconds(20);

    [StressFact]
    public async Task EveryNewConnectionGetsItsEchoWhileAThousandIdleStreamsAreHeld()
    {
        await using var rig = await StartAsync();
        await using var idle = await IdleStreams.OpenAsync(rig.Deployment.GatewayUrl, rig.Deployment.Fingerprint, rig.Deployment.UserToken, rig.Hosts, "echo", Idle, Signals.Timeout(120));
        Assert.True(idle.Count == Idle, $"{idle.Count} of {Idle} idle streams opened: {string.Join("; ", idle.Errors)}");

        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable,
            ["forward", "node1:echo", "--local", "127.0.0.1:0", "--trunk", "--verbose"], null, rig.Deployment.ClientEnvironment);
        var local = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30))).Groups[1].Value);

        var stuck = new List<string>();
        var clock = Stopwatch.StartNew();
        var made = 0;
        var parallel = int.TryParse(Environment.GetEnvironmentVariable("JUMPGATE_STRESS_PARALLEL"), out var p) ? p : 1;
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref made) <= StressFactAttribute.Connections && clock.Elapsed < StressFactAttribute.Budget)
            {
                var start = Stopwatch.GetTimestamp();
                var round = RoundTripAsync(local);
                if (await Task.WhenAny(round, Task.Delay(Slow)) != round)
                {
                    await DumpAsync($"a connection got no echo within {Slow.TotalSeconds:0} s", rig, forward);
                }
                var error = await round;
                var elapsed = Stopwatch.GetElapsedTime(start);
                if (error is not null || elapsed > Slow)
                {
                    lock (stuck)
                    {
                        stuck.Add($"{error ?? "echoed"} after {elapsed.TotalSeconds:0.0} s");
                    }
                }
            }
        })));
        output.WriteLine($"{Math.Min(made, StressFactAttribute.Connections)} connections in {clock.Elapsed.TotalSeconds:0} s, {stuck.Count} slow or failed");
        Assert.True(stuck.Count == 0, string.Join("\n", stuck));
    }

    /// <summary>The same, with the new streams opened as the idle ones are: in this process, many at once, on several trunks.</summary>
    [StressFact]
    public async Task EveryStreamOfRepeatedThousandsOpensAndEchoes()
    {
        await using var rig = await StartAsync();
        var clock = Stopwatch.StartNew();
        var opened = 0;
        var failures = new List<string>();
        // node1's agent is a process of its own (inline completions, its debug log read here); the crowd's are in this process.
        var hosts = Environment.GetEnvironmentVariable("JUMPGATE_STRESS_HOSTS") is { Length: > 0 } chosen ? chosen.Split(',') : rig.Hosts;
        while (opened < StressFactAttribute.Connections && clock.Elapsed < StressFactAttribute.Budget)
        {
            var seen = rig.Deployment.Gateway!.Lines.Count;
            var agentSeen = rig.Agent.Lines.Count;
            var batch = IdleStreams.OpenAsync(rig.Deployment.GatewayUrl, rig.Deployment.Fingerprint, rig.Deployment.UserToken, hosts, "echo", Idle, Signals.Timeout(60));
            if (await Task.WhenAny(batch, Task.Delay(TimeSpan.FromSeconds(20))) != batch)
            {
                // The echo server's side of its connections (a listener's Recv-Q is its accept queue) and how many it accepted.
                var sockets = await Command.RunAsync("ss", ["-tan", $"( sport = :{rig.Echo.Port} or dport = :{rig.Echo.Port} )"], Signals.Timeout(10));
                Note($"stuck: the echo server accepted {rig.Echo.Accepted} after {opened} echoed, received {rig.Echo.Bytes.Received} bytes and sent {rig.Echo.Bytes.Sent}; its sockets with bytes queued or not yet accepted:\n" +
                    string.Join("\n", sockets.Stdout.Split('\n').Where(line => !System.Text.RegularExpressions.Regex.IsMatch(line, @"^(ESTAB|TIME-WAIT)\s+0\s+0\s")).Take(20)));
                await DumpAsync($"a batch of {Idle} streams was not open within 20 s", rig, null);
            }
            var idle = await batch;
            opened += idle.Count;
            Note($"batch: {idle.Count} opened, {idle.Failed} failed at {clock.Elapsed.TotalSeconds:0} s");
            await idle.DisposeAsync();
            if (idle.Failed > 0)
            {
                failures.AddRange(idle.Errors);
                Note(string.Join("\n", idle.Errors));
                // The gateway says, when each stream closes, how many bytes it carried each way: the stuck one's tell where they stopped.
                await Signals.UntilAsync(() => Task.FromResult(rig.Deployment.Gateway.Lines.Skip(seen).Count(line => line.Contains(" closed after ", StringComparison.Ordinal)) >= Idle), Signals.Timeout(10));
                foreach (var line in rig.Deployment.Gateway.Lines.Skip(seen).Where(line => line.Contains(" closed after ", StringComparison.Ordinal) && !line.Contains(" 64 bytes to the service, 64 bytes to the user", StringComparison.Ordinal)))
                {
                    Note("gateway: " + line);
                }
                foreach (var line in rig.Agent.Lines.Skip(agentSeen).Where(line => line.Contains(" closed: ", StringComparison.Ordinal) && !line.Contains(" 64 bytes to the service, 64 bytes to the user", StringComparison.Ordinal)))
                {
                    Note("agent: " + line);
                }
            }
        }
        output.WriteLine($"{opened} streams opened in {clock.Elapsed.TotalSeconds:0} s, {failures.Count} failed");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>A gateway, node1's agent as a process of its own, and a crowd of agents in this process to carry idle streams.</summary>
    private async Task<Rig> StartAsync()
    {
        var echo = new EchoServer();
        var deployment = await Deployment.StartAsync(null);
        await deployment.AddAgentAsync("lab-a", "node*");
        var agent = await deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                echo: {echo.Port}
            """);
        var configs = await AgentCrowd.WriteConfigsAsync(deployment, Agents, echo.Port);
        // The crowd's debug lines say how many bytes each stream carried each way; only the streams that did not echo are noted.
        var crowd = await AgentCrowd.StartAsync(configs, Signals.Timeout(60), line =>
        {
            if (!line.Contains(" closed: ", StringComparison.Ordinal) && !line.Contains(" opened", StringComparison.Ordinal) || line.Contains(" closed: ", StringComparison.Ordinal) && !line.Contains(" 64 bytes to the service, 64 bytes to the user", StringComparison.Ordinal))
            {
                Note(line);
            }
        }, Microsoft.Extensions.Logging.LogLevel.Debug);
        return new Rig(echo, deployment, agent, crowd, AgentCrowd.Hosts(Agents));
    }

    private sealed record Rig(EchoServer Echo, Deployment Deployment, ChildProcess Agent, AgentCrowd Crowd, IReadOnlyList<string> Hosts) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Crowd.DisposeAsync();
            await Deployment.DisposeAsync();
            await Echo.DisposeAsync();
        }
    }

    /// <summary>Progress as it happens (a test's own output comes only at its end), in a file named by JUMPGATE_STRESS_LOG.</summary>
    private void Note(string line)
    {
        output.WriteLine(line);
        if (Environment.GetEnvironmentVariable("JUMPGATE_STRESS_LOG") is { Length: > 0 } log)
        {
            File.AppendAllText(log, $"{DateTime.UtcNow:HH:mm:ss.fff} {line}\n");
        }
    }

    /// <summary>One connection, 64 bytes echoed, closed; null if it worked, else why not.</summary>
    private static async Task<string?> RoundTripAsync(IPEndPoint local)
    {
        using var deadline = new CancellationTokenSource(GiveUp);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var payload = new byte[64];
        Random.Shared.NextBytes(payload);
        try
        {
            await socket.ConnectAsync(local, deadline.Token);
            await socket.SendAsync(payload, deadline.Token);
            var back = new byte[payload.Length];
            for (var read = 0; read < back.Length;)
            {
                var n = await socket.ReceiveAsync(back.AsMemory(read), deadline.Token);
                if (n == 0)
                {
                    return $"closed after {read} bytes";
                }
                read += n;
            }
            return back.AsSpan().SequenceEqual(payload) ? null : "different bytes came back";
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return e is OperationCanceledException ? $"no echo within {GiveUp.TotalSeconds:0} s" : e.Message;
        }
    }

    /// <summary>While the connection is stuck: each process's managed stacks and its latest log lines, into a file the output names.</summary>
    private async Task DumpAsync(string what, Rig rig, ChildProcess? forward)
    {
        var file = Path.Combine(Path.GetTempPath(), $"jumpgate-stuck-{DateTime.UtcNow:HHmmss.fff}.txt");
        await using var writer = File.CreateText(file);
        await writer.WriteLineAsync(what);
        var tool = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools", "dotnet-stack");
        var processes = new List<(string, ChildProcess)> { ("gateway", rig.Deployment.Gateway!), ("agent", rig.Agent) };
        if (forward is not null)
        {
            processes.Add(("forward", forward));
        }
        else
        {
            // The user's side is this process.
            var self = await Command.RunAsync(tool, ["report", "-p", Environment.ProcessId.ToString()], Signals.Timeout(60));
            await writer.WriteLineAsync($"==== this process\n{self.Stdout}{self.Stderr}");
        }
        foreach (var (name, process) in processes)
        {
            await writer.WriteLineAsync($"==== {name} (pid {process.Id})");
            if (File.Exists(tool))
            {
                var stacks = await Command.RunAsync(tool, ["report", "-p", process.Id.ToString()], Signals.Timeout(60));
                await writer.WriteLineAsync(stacks.Stdout + stacks.Stderr);
            }
            await writer.WriteLineAsync($"---- {name}'s last lines but streams opened and closed");
            foreach (var line in process.Lines.Where(line => !line.EndsWith(" opened", StringComparison.Ordinal) && !line.Contains(" closed after ", StringComparison.Ordinal)).TakeLast(300))
            {
                await writer.WriteLineAsync(line);
            }
        }
        Note($"{what}: stacks and logs in {file}");
    }
}

/// <summary>A fact that runs only when <c>JUMPGATE_STRESS_CONNECTIONS</c> is set: the stress harnesses take minutes.</summary>
public sealed class StressFactAttribute : FactAttribute
{
    public StressFactAttribute()
    {
        if (Connections <= 0)
        {
            Skip = "a stress harness: set JUMPGATE_STRESS_CONNECTIONS (and optionally JUMPGATE_STRESS_MINUTES) to run it";
        }
    }

    public static TimeSpan Budget => TimeSpan.FromMinutes(double.TryParse(Environment.GetEnvironmentVariable("JUMPGATE_STRESS_MINUTES"), out var minutes) ? minutes : 10);

    public static int Connections => int.TryParse(Environment.GetEnvironmentVariable("JUMPGATE_STRESS_CONNECTIONS"), out var count) ? count : 0;
}
