using System.Net;
using System.Net.Sockets;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// Direct by default, through the gateway when no direct leg can be made: here the gateway makes
/// none on purpose (gateway.yaml <c>direct_legs: false</c>, as behind a proxy that passes only TLS),
/// and `proxy` and `forward` still carry the stream, on the same request, saying why with -v.
/// </summary>
public sealed class DirectFallbackTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Why = @"this gateway makes no direct legs \(gateway\.yaml: direct_legs: false\)";

    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output, gatewayYaml: "direct_legs: false");

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task ProxyCarriesTheStreamThroughTheGatewayAndSaysWhy()
    {
        const string question = "through the gateway, since no direct leg can be made";

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "-v", "node1", "echo"], Signals.Timeout(30),
            _fixture.Deployment.ClientEnvironment, stdin: question, output: output);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(question, result.Stdout);
        Assert.Matches($"jumpgate: node1:echo: through the gateway's TLS, not direct: {Why}", result.Stderr);
        await _fixture.Deployment.Gateway!.WaitForLineAsync($"stream researcher -> node1:echo goes through the gateway, not direct: {Why}", Signals.Timeout(10));
        await _fixture.Deployment.WaitForAuditLineAsync("\"reason\":\"trunk: this gateway makes no direct legs");
        // One connection to the service: the stream went on the same request, not a second one.
        Assert.Equal(1, _fixture.Echo.Accepted);
    }

    [Fact]
    public async Task ForwardCarriesEachConnectionThroughTheGatewayAndSaysWhy()
    {
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable,
            ["forward", "node1:echo", "-v", "--local", "127.0.0.1:0"], output, _fixture.Deployment.ClientEnvironment);
        var bound = await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo through \S+, direct where a leg can be made", Signals.Timeout(30));

        for (var i = 0; i < 2; i++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPEndPoint.Parse(bound.Groups[1].Value));
            var round = System.Text.Encoding.ASCII.GetBytes($"round {i}");
            Assert.Equal(round, await EchoServer.RoundTripAsync(client.GetStream(), round, Signals.Timeout(10)));
        }

        await forward.WaitForLineAsync($"jumpgate: node1:echo: through the gateway's TLS, not direct: {Why}", Signals.Timeout(10));
        await _fixture.Deployment.WaitForAuditLineAsync("\"reason\":\"trunk: this gateway makes no direct legs");
    }

    [Fact]
    public async Task ProxyDirectInsistsAndIsRefusedInWords()
    {
        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "--direct", "node1", "echo"], Signals.Timeout(30),
            _fixture.Deployment.ClientEnvironment, stdin: "never carried", output: output);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Matches($"{Why}; or connect without --direct", result.Stderr);
    }

    [Fact]
    public async Task ProxyTrunkAsksForTheGatewayPathAndCombinesWithNoDirectOption()
    {
        var trunk = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "--trunk", "-v", "node1", "echo"], Signals.Timeout(30),
            _fixture.Deployment.ClientEnvironment, stdin: "by trunk", output: output);
        var both = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "--trunk", "--direct", "node1", "echo"], Signals.Timeout(30),
            _fixture.Deployment.ClientEnvironment, stdin: "", output: output);

        Assert.True(trunk.ExitCode == 0, trunk.ToString());
        Assert.Equal("by trunk", trunk.Stdout);
        Assert.Contains("node1:echo: through the gateway's TLS (--trunk)", trunk.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, both.ExitCode);
        Assert.Contains("--trunk carries the stream through the gateway's TLS; it cannot be combined with --direct", both.Stderr, StringComparison.Ordinal);
    }
}
