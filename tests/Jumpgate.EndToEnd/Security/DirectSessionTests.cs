using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// `forward`'s direct session: its connections are streams inside one pair of direct legs, TLS end
/// to end with the agent, as ssh -J's channels are inside one SSH session. The gateway still audits
/// each connection (the agent reports it), revocation still cuts them, an agent that serves no
/// sessions still gets its streams, and a session that dies is replaced.
/// </summary>
public sealed partial class DirectSessionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task ManyConnectionsThroughOneForwardShareOneSessionAndEachIsAudited()
    {
        // Everything `forward` sends to the gateway passes a recording relay: the trunk and every direct leg.
        var gateway = IPEndPoint.Parse(new Uri(_fixture.Deployment.GatewayUrl).Authority);
        await using var wire = await RecordingRelay.StartAsync(gateway);
        using var home = new TempDirectory("jumpgate-session-client-");
        var environment = await _fixture.LoginThroughAsync(wire.Port, home, output);
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "-v", "--local", "127.0.0.1:0"], output, environment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo", Signals.Timeout(30))).Groups[1].Value);

        const int OneByOne = 12, AtOnce = 12;
        for (var i = 0; i < OneByOne; i++)
        {
            await RoundTripAsync(bound, $"one by one {i}");
        }
        await Task.WhenAll(Enumerable.Range(0, AtOnce).Select(i => RoundTripAsync(bound, $"at once {i}")));

        const int Connections = OneByOne + AtOnce;
        await forward.WaitForLineAsync("node1:echo: direct, in a new direct session", Signals.Timeout(10));
        Assert.Equal(1, wire.ConnectionsOpeningWith("JGD1"u8.ToArray()));
        Assert.Equal(Connections, _fixture.Echo.Accepted);
        // Each connection is a stream of the gateway's record: opened and closed in the audit, with its bytes.
        await WaitForAsync(() => AuditLines("\"outcome\":\"closed\"", "\"reason\":\"closed (direct session)\"").Count == Connections, "every connection's close audited");
        Assert.Equal(Connections, AuditLines("\"outcome\":\"opened\"", "\"reason\":\"direct session\"").Count);
        Assert.Single(AuditLines("\"outcome\":\"opened\"", "\"reason\":\"direct session legs\""));
        // The agent counted each one's bytes, the same each way through an echo.
        Assert.All(AuditLines("\"outcome\":\"closed\"", "\"reason\":\"closed (direct session)\""), line => Assert.Matches("\"bytes_up\":([1-9][0-9]*),\"bytes_down\":\\1[,}]", line));
    }

    [Fact]
    public async Task AStreamInASessionCarriesAMebibyteBothWaysWithItsHalfClose()
    {
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _fixture.Deployment.ClientEnvironment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo", Signals.Timeout(30))).Groups[1].Value);
        // A first connection makes the session; the second is a stream in it.
        await RoundTripAsync(bound, "the session opens");
        var payload = new byte[1 << 20];
        new Random(25).NextBytes(payload);

        using var client = new TcpClient();
        await client.ConnectAsync(bound);
        var stream = client.GetStream();
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        var reading = ReadToEndAsync(stream, deadline.Token);
        await stream.WriteAsync(payload, deadline.Token);
        // The half-close: the echo server sees the end of input and only then ends its side, after the last byte.
        client.Client.Shutdown(SocketShutdown.Send);
        var echoed = await reading;

        Assert.Equal(payload.Length, echoed.Length);
        Assert.True(payload.AsSpan().SequenceEqual(echoed), "the echoed bytes differ from those sent");
        await _fixture.Deployment.Gateway!.WaitForLineAsync(
            @"stream researcher -> node1:echo via lab-a closed after [\d.]+ s: closed \(direct session\), 1048576 bytes to the service, 1048576 bytes to the user", Signals.Timeout(10));
    }

    [Fact]
    public async Task RevokingTheUsersTokenCutsALiveSessionStreamAndTheSession()
    {
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _fixture.Deployment.ClientEnvironment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo", Signals.Timeout(30))).Groups[1].Value);
        await RoundTripAsync(bound, "the session opens");
        using var client = new TcpClient();
        await client.ConnectAsync(bound);
        var stream = client.GetStream();
        Assert.Equal("before"u8.ToArray(), await EchoServer.RoundTripAsync(stream, "before"u8.ToArray(), Signals.Timeout(10)));

        await _fixture.AdminAsync("token-revoke", AccessFixture.TokenId(_fixture.Deployment.UserToken));
        var revoked = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        await ReadToEndAsync(stream, deadline.Token);

        Assert.True(revoked.Elapsed < TimeSpan.FromSeconds(5), $"the session's stream closed {revoked.Elapsed.TotalSeconds:0.00} s after the token was revoked");
        await _fixture.Deployment.Gateway!.WaitForLineAsync(@"closed after [\d.]+ s: revoked: .*, \d+ bytes to the service", Signals.Timeout(5));
        await _fixture.Deployment.WaitForAuditLineAsync("\"reason\":\"revoked: ");
        // Nothing more goes through: the session is gone and the token opens nothing new.
        var reached = _fixture.Echo.Accepted;
        using var again = new TcpClient();
        await again.ConnectAsync(bound);
        await again.GetStream().WriteAsync("after"u8.ToArray());
        using var closing = new CancellationTokenSource(Signals.Timeout(15));
        Assert.Empty(await ReadToEndAsync(again.GetStream(), closing.Token));
        Assert.Equal(reached, _fixture.Echo.Accepted);
    }

    [Fact]
    public async Task AnAgentThatServesNoSessionsStillCarriesForwardsConnectionsOnLegsOfTheirOwn()
    {
        var deployment = _fixture.Deployment;
        var token = await deployment.AddAgentAsync("lab-b", "node2");
        await File.WriteAllTextAsync(deployment.Dir.File("lab-b.yaml"), $"""
            gateway: {deployment.GatewayUrl}
            token_file: {token}
            fingerprint: {deployment.Fingerprint}
            direct_sessions: false
            hosts:
              node2:
                address: 127.0.0.1
                services:
                  echo:
                    port: {_fixture.Echo.Port}
                    health: off
            """);
        await deployment.StartAgentAsync("lab-b", "");
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node2:echo", "-v", "--local", "127.0.0.1:0"], output, deployment.ClientEnvironment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node2:echo", Signals.Timeout(30))).Groups[1].Value);

        for (var i = 0; i < 3; i++)
        {
            await RoundTripAsync(bound, $"on legs of its own {i}");
        }

        await forward.WaitForLineAsync("node2:echo: direct, TLS end to end with the agent across the gateway", Signals.Timeout(10));
        Assert.DoesNotContain(forward.Lines, line => line.Contains("direct session", StringComparison.Ordinal));
        await WaitForAsync(() => AuditLines("\"outcome\":\"closed\"", "\"host\":\"node2\"", "\"reason\":\"closed (direct)\"").Count == 3, "three direct streams closed");
    }

    [Fact]
    public async Task AfterTheAgentDiesTheNextConnectionGetsANewSession()
    {
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "-v", "--local", "127.0.0.1:0"], output, _fixture.Deployment.ClientEnvironment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo", Signals.Timeout(30))).Groups[1].Value);
        await RoundTripAsync(bound, "in the first session");
        await RoundTripAsync(bound, "still in the first session");

        var agent = _fixture.Deployment.Agent("lab-a");
        agent.Signal(ChildProcess.SIGKILL);
        await agent.Exited.WaitAsync(Signals.Timeout(10));
        await _fixture.Deployment.Gateway!.WaitForLineAsync("closed after [\\d.]+ s: closed \\(direct session legs\\)", Signals.Timeout(10));
        await _fixture.Deployment.StartAgentAsync("lab-a", "");
        await RoundTripAsync(bound, "in a second session");

        Assert.Equal(2, forward.Lines.Count(line => line.Contains("node1:echo: direct, in a new direct session", StringComparison.Ordinal)));
    }

    private static async Task RoundTripAsync(IPEndPoint bound, string text)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(bound);
        var payload = Encoding.ASCII.GetBytes(text);
        Assert.Equal(payload, await EchoServer.RoundTripAsync(client.GetStream(), payload, Signals.Timeout(15)));
    }

    /// <summary>The audit lines that hold every one of <paramref name="parts"/>.</summary>
    private List<string> AuditLines(params string[] parts)
    {
        var path = Path.Combine(_fixture.Deployment.GatewayDir, "audit.jsonl");
        return File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => parts.All(p => l.Contains(p, StringComparison.Ordinal)))] : [];
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        while (!condition())
        {
            try
            {
                await Task.Delay(50, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"timed out waiting for {what}");
            }
        }
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var all = new MemoryStream();
        try
        {
            await stream.CopyToAsync(all, cancellationToken);
        }
        catch (IOException)
        {
            // A reset ends it too.
        }
        return all.ToArray();
    }
}
