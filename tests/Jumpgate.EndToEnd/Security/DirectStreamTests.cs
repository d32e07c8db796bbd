using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// `jumpgate forward --direct` and `proxy --direct`: the gateway relays the stream's bytes without
/// decrypting them, the two ends run TLS across it (for `forward`, in its direct session), and the
/// stream is still authorised, audited and revocable.
/// </summary>
public sealed class DirectStreamTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task ADirectStreamCarriesAMebibyteBothWaysAndItsHalfCloseWhileTheWireShowsNoneOfIt()
    {
        // Everything the client sends to the gateway, and gets back, passes a recording relay: the trunk and the direct leg.
        var gateway = IPEndPoint.Parse(new Uri(_fixture.Deployment.GatewayUrl).Authority);
        await using var wire = await RecordingRelay.StartAsync(gateway);
        using var home = new TempDirectory("jumpgate-direct-client-");
        var environment = await _fixture.LoginThroughAsync(wire.Port, home, output);
        await using var forward = ChildProcess.Start("forward --direct", TestSupport.Jumpgate.Executable,
            ["forward", "node1:echo", "--direct", "--local", "127.0.0.1:0"], output, environment);
        var bound = await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo through \S+, encrypted end to end", Signals.Timeout(30));

        // A marker that cannot turn up by chance: if any copy of it crosses the wire in the clear, the test sees it.
        var marker = RandomNumberGenerator.GetBytes(32);
        var payload = new byte[1 << 20];
        for (var offset = 0; offset < payload.Length; offset += marker.Length)
        {
            marker.CopyTo(payload, offset);
        }
        using var client = new TcpClient();
        await client.ConnectAsync(IPEndPoint.Parse(bound.Groups[1].Value));
        var stream = client.GetStream();
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        var reading = ReadToEndAsync(stream, deadline.Token);
        await stream.WriteAsync(payload, deadline.Token);
        client.Client.Shutdown(SocketShutdown.Send);
        var echoed = await reading;

        Assert.Equal(payload.Length, echoed.Length);
        Assert.True(payload.AsSpan().SequenceEqual(echoed), "the echoed bytes differ from those sent");
        await _fixture.Deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:echo via lab-a closed after [\d.]+ s: closed \(direct session\), 1048576 bytes to the service, 1048576 bytes to the user", Signals.Timeout(10));
        var (up, down, connections) = wire.Totals();
        output.WriteLine($"the wire carried {up} bytes up and {down} down on {connections} connections");
        Assert.True(up > payload.Length && down > payload.Length, "the stream's bytes did not cross the recorded wire");
        Assert.True(wire.ConnectionsOpeningWith("JGD1"u8.ToArray()) == 1, "the direct stream did not travel on a leg of its own");
        Assert.False(wire.Contains(marker), "the stream's plaintext crossed the wire between the client and the gateway");
    }

    [Fact]
    public async Task ProxyDirectWhoseInputEndsAtOnceStillGetsTheWholeAnswer()
    {
        // OpenSSL once refused the close_notify for an input that ended right after the handshake, and the proxy died.
        const string question = "a question that ends at once, before the agent's first bytes come back";
        for (var run = 0; run < 8; run++)
        {
            var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "--direct", "node1", "echo"], Signals.Timeout(30),
                _fixture.Deployment.ClientEnvironment, stdin: question, output: output);

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal(question, result.Stdout);
        }
    }

    [Fact]
    public async Task RevokingTheRuleClosesADirectStreamWithinFiveSeconds()
    {
        await using var forward = ChildProcess.Start("forward --direct", TestSupport.Jumpgate.Executable,
            ["forward", "node1:echo", "--direct", "--local", "127.0.0.1:0"], output, _fixture.Deployment.ClientEnvironment);
        var bound = await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30));
        using var client = new TcpClient();
        await client.ConnectAsync(IPEndPoint.Parse(bound.Groups[1].Value));
        var stream = client.GetStream();
        Assert.Equal("before"u8.ToArray(), await EchoServer.RoundTripAsync(stream, "before"u8.ToArray(), Signals.Timeout(10)));

        await _fixture.AdminAsync("revoke", "@everyone", "*");
        var revoked = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        await ReadToEndAsync(stream, deadline.Token);

        Assert.True(revoked.Elapsed < TimeSpan.FromSeconds(5), $"the direct stream closed {revoked.Elapsed.TotalSeconds:0.00} s after the rule was revoked");
        await _fixture.Deployment.Gateway!.WaitForLineAsync("stream researcher -> node1:echo via lab-a closed after .*revoked: the rules changed", Signals.Timeout(5));
        using var again = new TcpClient();
        await again.ConnectAsync(IPEndPoint.Parse(bound.Groups[1].Value));
        await forward.WaitForLineAsync("jumpgate: user researcher may not reach node1:echo", Signals.Timeout(15));
    }

    [Fact]
    public async Task ALegWithAnUnknownTicketOrAHalfHelloIsDroppedWhileOtherStreamsCarryOn()
    {
        await using var working = await _fixture.ConnectAsync("node1", "echo");
        Assert.True(working.Ok, working.Error);
        var gateway = IPEndPoint.Parse(new Uri(_fixture.Deployment.GatewayUrl).Authority);

        using (var guess = new TcpClient())
        {
            await guess.ConnectAsync(gateway);
            await guess.GetStream().WriteAsync((byte[])[.. "JGD1"u8, .. RandomNumberGenerator.GetBytes(48)]);
            using var deadline = new CancellationTokenSource(Signals.Timeout(10));
            Assert.Empty(await ReadToEndAsync(guess.GetStream(), deadline.Token));
        }
        await _fixture.Deployment.Gateway!.WaitForLineAsync("refused direct leg connection from 127.0.0.1:\\d+: no direct stream waits for this leg", Signals.Timeout(10));
        using (var half = new TcpClient())
        {
            await half.ConnectAsync(gateway);
            var stream = half.GetStream();
            await stream.WriteAsync("JGD1\u0001\u0002"u8.ToArray());
            half.Client.Shutdown(SocketShutdown.Send);
            using var deadline = new CancellationTokenSource(Signals.Timeout(10));
            Assert.Empty(await ReadToEndAsync(stream, deadline.Token));
        }
        await _fixture.Deployment.Gateway.WaitForLineAsync("refused direct leg connection from 127.0.0.1:\\d+: the connection closed inside the hello", Signals.Timeout(10));

        Assert.Equal("still"u8.ToArray(), await EchoServer.RoundTripAsync(working.Stream, "still"u8.ToArray(), Signals.Timeout(10)));
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
