using System.Diagnostics;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>
/// Two agent processes serve node1's echo, each in front of an echo server of its own; the user
/// connects with `jumpgate proxy` and reads the replicas from `jumpgate ls --json`. A target that
/// stops and an agent killed with SIGKILL cost the user no failed connection.
/// </summary>
public sealed class ReplicaFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(300);
    private const int UnhealthyAfter = 3;

    private Deployment _deployment = null!;
    private readonly EchoServer _targetA = new();
    private readonly EchoServer _targetB = new();

    public async Task InitializeAsync()
    {
        _deployment = await Deployment.StartAsync(output);
        foreach (var (agent, target) in new[] { ("lab-a", _targetA), ("lab-b", _targetB) })
        {
            await _deployment.StartAgentAsync(agent, $$"""
                node1:
                  address: 127.0.0.1
                  services:
                    echo: { port: {{target.Port}}, health: { interval: {{Interval.TotalMilliseconds}}ms, unhealthy_after: {{UnhealthyAfter}}, healthy_after: 1 } }
                """);
        }
        Assert.True(await UntilAsync(replicas => replicas.Count == 2, Signals.Timeout(30)), "ls --json never listed both replicas");
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _targetA.DisposeAsync();
        await _targetB.DisposeAsync();
    }

    [Fact]
    public async Task AStoppedTargetIsListedUnhealthyInTimeAndNoConnectionFails()
    {
        await _targetA.DisposeAsync();
        var stopped = Stopwatch.StartNew();
        await _deployment.Gateway!.WaitForLineAsync("agent lab-a: node1:echo is unhealthy", Signals.Timeout(15));
        var took = stopped.Elapsed;

        output.WriteLine($"the gateway took lab-a for unhealthy {took.TotalMilliseconds:0} ms after its target stopped (interval × unhealthy_after = {(Interval * UnhealthyAfter).TotalMilliseconds:0} ms)");
        // The checks' own bound, plus a second for a loaded machine to schedule them.
        Assert.True(took <= Interval * UnhealthyAfter + TimeSpan.FromSeconds(1), $"unhealthy after {took}");
        var listed = (await LsAsync()).Single(r => r.Agent == "lab-a");
        Assert.False(listed.Healthy);
        Assert.Contains("Connection refused", listed.LastFailure, StringComparison.Ordinal);
        var table = await _deployment.JumpgateAsync("ls");
        Assert.Matches(@"replica lab-a +echo +UNHEALTHY +0 open  last failure: 127\.0\.0\.1:\d+: Connection refused", table.Stdout);
        Assert.Matches(@"replica lab-b +echo +healthy +0 open\n", table.Stdout);
        await EchoThroughProxyAsync(4);
    }

    [Fact]
    public async Task AnAgentKilledWithSigkillCostsNoConnection()
    {
        var killed = _deployment.Agent("lab-a");
        killed.Signal(ChildProcess.SIGKILL);
        await killed.Exited.WaitAsync(Signals.Timeout(10));

        await EchoThroughProxyAsync(6);

        Assert.True(await UntilAsync(replicas => replicas.Count == 1 && replicas[0].Agent == "lab-b", Signals.Timeout(15)), "lab-a is still listed");
    }

    /// <summary>`jumpgate proxy node1 echo` <paramref name="count"/> times, one after another: each must echo and exit 0.</summary>
    private async Task EchoThroughProxyAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var result = await Command.RunAsync(global::Jumpgate.TestSupport.Jumpgate.Executable, ["proxy", "node1", "echo"], Signals.Timeout(60),
                _deployment.ClientEnvironment, stdin: $"ping {i}\n", output: output);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal($"ping {i}\n", result.Stdout);
        }
    }

    private sealed record Replica(string Agent, bool Healthy, string? LastFailure, int OpenStreams);

    /// <summary>node1's replicas as `jumpgate ls --json` prints them.</summary>
    private async Task<List<Replica>> LsAsync()
    {
        var result = await _deployment.JumpgateAsync("ls", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var node1 = json.RootElement.EnumerateArray().Single(h => h.GetProperty("name").GetString() == "node1");
        return
        [
            .. node1.GetProperty("replicas").EnumerateArray().Select(r => new Replica(
                r.GetProperty("agent").GetString()!, r.GetProperty("healthy").GetBoolean(),
                r.GetProperty("last_failure").GetString(), r.GetProperty("open_streams").GetInt32())),
        ];
    }

    private async Task<bool> UntilAsync(Func<List<Replica>, bool> condition, TimeSpan timeout) =>
        await Signals.UntilAsync(async () => condition(await LsAsync()), timeout, TimeSpan.FromMilliseconds(50));
}
