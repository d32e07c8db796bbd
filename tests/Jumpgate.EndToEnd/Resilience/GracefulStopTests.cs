using System.Net;
using System.Net.Sockets;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>Ctrl-C stops accepting, lets open streams finish for the drain timeout, then exits.</summary>
public sealed class GracefulStopTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Deployment _deployment = null!;
    private EchoServer _echo = null!;

    public async Task InitializeAsync()
    {
        _echo = new EchoServer();
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                echo: {_echo.Port}
            """);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _echo.DisposeAsync();
    }

    [Fact]
    public async Task CtrlCOnTheGatewayLetsAnOpenStreamFinishThenExits()
    {
        var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30))).Groups[1].Value);
        using var client = new TcpClient();
        await client.ConnectAsync(bound);
        var stream = client.GetStream();
        Assert.Equal("one"u8.ToArray(), await EchoServer.RoundTripAsync(stream, "one"u8.ToArray(), Signals.Timeout(10)));

        _deployment.Gateway!.Signal(ChildProcess.SIGINT);
        await _deployment.Gateway.WaitForLineAsync("stopping: no new connections", Signals.Timeout(10));

        // The open stream still carries data while the gateway drains...
        Assert.Equal("two"u8.ToArray(), await EchoServer.RoundTripAsync(stream, "two"u8.ToArray(), Signals.Timeout(10)));
        // ...new streams are not accepted...
        var refused = await _deployment.JumpgateAsync("proxy", "node1", "echo");
        Assert.NotEqual(0, refused.ExitCode);
        // ...and the gateway exits by itself once the drain timeout (5 s) is over.
        Assert.Equal(0, await _deployment.Gateway.Exited.WaitAsync(Signals.Timeout(20)));
    }

    [Fact]
    public async Task CtrlCOnTheAgentExitsCleanly()
    {
        var agent = _deployment.Agent("lab-a");
        agent.Signal(ChildProcess.SIGINT);

        await agent.WaitForLineAsync("stopping: 0 open streams", Signals.Timeout(10));
        Assert.Equal(0, await agent.Exited.WaitAsync(Signals.Timeout(20)));
        await _deployment.Gateway!.WaitForLineAsync("agent lab-a disconnected", Signals.Timeout(10));
    }
}
