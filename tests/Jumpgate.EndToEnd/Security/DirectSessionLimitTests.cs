using System.Net;
using System.Net.Sockets;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// Streams inside a direct session open without asking the gateway each time, but they count
/// against the user's limit like any other: the gateway grants the session streams from the
/// user's room ahead of time, and one past it is refused by the agent in the gateway's words,
/// before it reaches the service, and audited.
/// </summary>
public sealed class DirectSessionLimitTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output, """
        trunks:
          max_streams_per_user: 3
        """);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task AStreamInASessionPastTheUsersLimitIsRefusedInTheGatewaysWordsAndTheOthersGoOn()
    {
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _fixture.Deployment.ClientEnvironment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo", Signals.Timeout(30))).Groups[1].Value);
        // The session itself is one of the user's streams, and each connection in it another: two fit under three.
        using var one = new TcpClient();
        using var two = new TcpClient();
        foreach (var client in new[] { one, two })
        {
            await client.ConnectAsync(bound);
            Assert.Equal("open"u8.ToArray(), await EchoServer.RoundTripAsync(client.GetStream(), "open"u8.ToArray(), Signals.Timeout(10)));
        }
        await _fixture.Deployment.WaitForAuditLineAsync("\"reason\":\"direct session\"");
        var reached = _fixture.Echo.Accepted;

        using var three = new TcpClient();
        await three.ConnectAsync(bound);
        await three.GetStream().WriteAsync("three"u8.ToArray());
        var refusal = await forward.WaitForLineAsync("^jumpgate: (.*)$", Signals.Timeout(15));
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        await ReadToEndAsync(three.GetStream(), deadline.Token);

        Assert.Equal("jumpgate: too many streams: user researcher has 3 open, the gateway's limit; close some and try again", refusal.Value);
        Assert.False(deadline.IsCancellationRequested, "the stream past the user's limit stayed open");
        // Refused before the agent connected to the service: the echo server never saw it.
        Assert.Equal(reached, _fixture.Echo.Accepted);
        await _fixture.Deployment.WaitForAuditLineAsync("too many streams: user researcher has 3 open");
        Assert.Equal("still"u8.ToArray(), await EchoServer.RoundTripAsync(one.GetStream(), "still"u8.ToArray(), Signals.Timeout(10)));
        Assert.Equal("still"u8.ToArray(), await EchoServer.RoundTripAsync(two.GetStream(), "still"u8.ToArray(), Signals.Timeout(10)));

        // Once one closes, the room it leaves is the session's again.
        one.Dispose();
        Assert.True(await Signals.UntilAsync(async () =>
        {
            using var attempt = new TcpClient();
            await attempt.ConnectAsync(bound);
            try
            {
                return (await EchoServer.RoundTripAsync(attempt.GetStream(), "four"u8.ToArray(), Signals.Timeout(10))).SequenceEqual("four"u8.ToArray());
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or TimeoutException or OperationCanceledException or SocketException)
            {
                return false;
            }
        }, Signals.Timeout(15), TimeSpan.FromMilliseconds(200)), "no new stream fitted after one closed");
    }

    private static async Task ReadToEndAsync(Stream stream, CancellationToken cancellationToken)
    {
        try
        {
            await stream.CopyToAsync(Stream.Null, cancellationToken);
        }
        catch (IOException)
        {
            // A reset ends it too.
        }
        catch (OperationCanceledException)
        {
            // The caller asserts on the deadline.
        }
    }
}
