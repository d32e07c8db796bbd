using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>Heartbeats and reconnects: what autossh and ServerAliveInterval did by hand.</summary>
public sealed class ReconnectTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Sshd _sshd = null!;
    private Deployment _deployment = null!;
    private string _sshConfig = "";

    public async Task InitializeAsync()
    {
        _sshd = await Sshd.StartAsync(output);
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                ssh: {_sshd.Port}
            """);
        _sshConfig = await _deployment.WriteSshConfigAsync(_sshd);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _sshd.DisposeAsync();
    }

    [Fact]
    public async Task AgentComesBackByItselfAfterTheGatewayIsKilledAndRestarted()
    {
        var agent = _deployment.Agent("lab-a");
        var before = agent.Lines.Count(l => l.Contains("connected to https://", StringComparison.Ordinal));
        _deployment.Gateway!.Signal(ChildProcess.SIGKILL);
        await _deployment.Gateway.Exited.WaitAsync(Signals.Timeout(10));
        await agent.WaitForLineAsync("lost the gateway|gateway unreachable", Signals.Timeout(10));

        await _deployment.StartGatewayAsync();
        // The promise: within 5 s of the gateway being back, the agent is registered again.
        await WaitForNthLineAsync(agent, "connected to https://", before + 1, Signals.Timeout(5));
        var result = await _deployment.SshAsync(_sshConfig, "node1.jg", "echo", "back");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("back", result.Stdout.Trim());
    }

    [Fact]
    public async Task SshFailsAtOnceWithTheOfflineMessageWhenTheAgentIsKilled()
    {
        var agent = _deployment.Agent("lab-a");
        agent.Signal(ChildProcess.SIGKILL);
        await _deployment.Gateway!.WaitForLineAsync("agent lab-a disconnected", Signals.Timeout(10));

        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await _deployment.SshAsync(_sshConfig, "node1.jg", "echo", "unreachable");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches(@"host node1 is offline: agent lab-a last seen \d+ (ms|s) ago", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr); // no stack trace
        output.WriteLine($"ssh gave up after {started.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task GatewayNoticesAFrozenAgentWithinTenSeconds()
    {
        var agent = _deployment.Agent("lab-a");
        agent.Signal(ChildProcess.SIGSTOP);
        try
        {
            await _deployment.Gateway!.WaitForLineAsync("agent lab-a disconnected: no heartbeat", Signals.Timeout(10));
        }
        finally
        {
            agent.Signal(ChildProcess.SIGCONT);
        }
        // Thawed, the agent finds its old connection gone and registers again by itself.
        await WaitForNthLineAsync(agent, "connected to https://", 2, Signals.Timeout(15));
        var result = await _deployment.SshAsync(_sshConfig, "node1.jg", "true");
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task AgentNoticesAFrozenGatewayWithinTenSeconds()
    {
        _deployment.Gateway!.Signal(ChildProcess.SIGSTOP);
        try
        {
            await _deployment.Agent("lab-a").WaitForLineAsync("lost the gateway .*: no heartbeat", Signals.Timeout(10));
        }
        finally
        {
            _deployment.Gateway.Signal(ChildProcess.SIGCONT);
        }
        await WaitForNthLineAsync(_deployment.Agent("lab-a"), "connected to https://", 2, Signals.Timeout(15));
    }

    private static async Task WaitForNthLineAsync(ChildProcess process, string text, int count, TimeSpan timeout)
    {
        var found = await Signals.UntilAsync(
            () => Task.FromResult(process.Lines.Count(l => l.Contains(text, StringComparison.Ordinal)) >= count),
            timeout);
        Assert.True(found, $"'{text}' was not printed {count} times within {timeout.TotalSeconds} s:\n{process.Output}");
    }
}
