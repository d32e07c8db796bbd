using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// A user's trunk (what `jumpgate forward` keeps) on a real gateway: it is limited in streams, closed
/// once its token is revoked or once it has been idle for trunks.idle_timeout, and every connection
/// the gateway accepts has TCP keepalive, so one whose peer vanished is closed too.
/// </summary>
public sealed class UserTrunkTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(2);

    private AccessFixture _fixture = null!;

    private Deployment Deployment => _fixture.Deployment;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output, $"""
        trunks:
          max_streams: 2
          idle_timeout: {IdleTimeout.TotalSeconds:0}s
        """);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task ARevokedTokensTrunkOpensNothingNewAndIsClosed()
    {
        var token = (await _fixture.AdminAsync("token-add", "user", "researcher")).Stdout.Trim();
        Deployment.Tokens.Add(token);
        await using var trunk = await RawUserTrunk.OpenAsync(Deployment.GatewayUrl, token, Signals.Timeout(30));
        Assert.True(trunk.Client.Ok, trunk.Client.Error);
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        await trunk.Stream.WriteAsync(RawUserTrunk.OpenFrame(1, "node1", "echo"), deadline.Token);
        var first = await trunk.ReadAnswerAsync(1, deadline.Token);
        Assert.True(first is { } opened && opened.TryGetProperty("ok", out var ok) && ok.GetBoolean(), $"the first stream was not opened: {first}");
        var accepted = _fixture.Echo.Accepted;

        await _fixture.AdminAsync("token-revoke", AccessFixture.TokenId(token));
        var revoked = Stopwatch.StartNew();
        // A stream opened at once, before the monitor's next pass, is checked against the store on its own.
        await trunk.Stream.WriteAsync(RawUserTrunk.OpenFrame(2, "node1", "echo"), deadline.Token);
        var second = await trunk.ReadAnswerAsync(2, deadline.Token);
        output.WriteLine($"a stream opened right after the revocation: {second?.ToString() ?? "the trunk closed first"}");
        Assert.False(second is { } reply && reply.TryGetProperty("ok", out var yes) && yes.GetBoolean(), "a revoked token's trunk opened a new stream");
        if (second is { } answer)
        {
            Assert.Equal("invalid or revoked token", answer.GetProperty("error").GetString());
        }

        // And the trunk itself is closed by the access monitor.
        Assert.True(await trunk.Client.WaitClosedAsync(Signals.Timeout(10)), "the revoked token's trunk stayed open");
        output.WriteLine($"the trunk closed {revoked.Elapsed.TotalSeconds:0.00} s after the revocation");
        Assert.Equal(accepted, _fixture.Echo.Accepted);
        await Deployment.Gateway!.WaitForLineAsync("closed the trunk of user researcher from .*: revoked", Signals.Timeout(10));
    }

    [Fact]
    public async Task ForwardPrintsTheGatewaysRefusalForAStreamOverTheLimit()
    {
        var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, Deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = System.Net.IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30))).Groups[1].Value);
        // `forward` carries two connections in its direct session (which holds as many as one connection may), and
        // the third on legs of its own; those and the session's legs are the two streams of forward's trunk connection.
        using var one = new TcpClient();
        using var two = new TcpClient();
        using var three = new TcpClient();
        foreach (var client in new[] { one, two, three })
        {
            await client.ConnectAsync(bound);
            Assert.Equal("open"u8.ToArray(), await EchoServer.RoundTripAsync(client.GetStream(), "open"u8.ToArray(), Signals.Timeout(10)));
        }

        using var four = new TcpClient();
        await four.ConnectAsync(bound);
        await four.GetStream().WriteAsync("four"u8.ToArray());
        var refusal = await forward.WaitForLineAsync("^jumpgate: (.*)$", Signals.Timeout(15));
        output.WriteLine($"forward printed: {refusal.Value}");
        Assert.Equal("jumpgate: too many streams: 2 are open on this connection, the gateway's limit; close some and try again", refusal.Value);
        Assert.Equal(0, await four.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(Signals.Timeout(10)));
        await Deployment.WaitForAuditLineAsync("too many streams: 2 are open on this connection");
        // The open ones go on.
        Assert.Equal("still"u8.ToArray(), await EchoServer.RoundTripAsync(one.GetStream(), "still"u8.ToArray(), Signals.Timeout(10)));
    }

    [Fact]
    public async Task AnIdleUserTrunkIsClosedAfterTheIdleTimeout()
    {
        var watch = Stopwatch.StartNew();
        await using var trunk = await RawUserTrunk.OpenAsync(Deployment.GatewayUrl, Deployment.UserToken, Signals.Timeout(30));
        Assert.True(trunk.Client.Ok, trunk.Client.Error);
        Assert.Equal((long)IdleTimeout.TotalMilliseconds, trunk.Client.Reply.GetProperty("idle_timeout_ms").GetInt64());

        Assert.True(await trunk.Client.WaitClosedAsync(Signals.Timeout(15)), "the idle trunk stayed open");
        output.WriteLine($"the idle trunk closed {watch.Elapsed.TotalSeconds:0.00} s after it opened (idle timeout {IdleTimeout.TotalSeconds:0} s)");
        Assert.True(watch.Elapsed >= IdleTimeout, $"the trunk closed after {watch.Elapsed.TotalSeconds:0.00} s, before the idle timeout");
        await Deployment.Gateway!.WaitForLineAsync("closed the trunk of user researcher from .*: no streams and nothing sent for", Signals.Timeout(10));
    }

    [Fact]
    public async Task ForwardRedialsAfterItsIdleTrunkClosedWithoutAnError()
    {
        var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, Deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = System.Net.IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30))).Groups[1].Value);
        using (var first = new TcpClient())
        {
            await first.ConnectAsync(bound);
            Assert.Equal("first"u8.ToArray(), await EchoServer.RoundTripAsync(first.GetStream(), "first"u8.ToArray(), Signals.Timeout(10)));
        }
        var gatewayPort = new Uri(Deployment.GatewayUrl).Port;
        Assert.True(await Signals.UntilAsync(async () => await ConnectionsAsync(forward.Id, gatewayPort) == 0, Signals.Timeout(15), TimeSpan.FromMilliseconds(100)),
            "forward's trunk to the gateway stayed open past the idle timeout");

        using var second = new TcpClient();
        await second.ConnectAsync(bound);
        Assert.Equal("second"u8.ToArray(), await EchoServer.RoundTripAsync(second.GetStream(), "second"u8.ToArray(), Signals.Timeout(10)));
        Assert.DoesNotContain(forward.Lines, line => line.StartsWith("jumpgate:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryConnectionTheGatewayAcceptsHasTcpKeepalive()
    {
        await using var trunk = await RawUserTrunk.OpenAsync(Deployment.GatewayUrl, Deployment.UserToken, Signals.Timeout(30));
        Assert.True(trunk.Client.Ok, trunk.Client.Error);
        var port = new Uri(Deployment.GatewayUrl).Port;

        // The gateway's end of every connection on its port: this trunk, and the agent's control connection and trunks.
        // ss shows one timer per socket: one with data in flight shows its retransmit timer instead, so look until all are idle.
        var listing = "";
        var (connections, keepalive) = (0, 0);
        var all = await Signals.UntilAsync(async () =>
        {
            listing = (await Command.RunAsync("ss", ["-tnoH", "state", "established", "( sport = :" + port + " )"], Signals.Timeout(10))).Stdout;
            connections = Regex.Matches(listing, @"^\d+\s+\d+\s+127\.0\.0\.1:" + port + @"\s", RegexOptions.Multiline).Count;
            keepalive = Regex.Matches(listing, @"timer:\(keepalive,").Count;
            return connections >= 2 && keepalive == connections;
        }, Signals.Timeout(10), TimeSpan.FromMilliseconds(100));
        output.WriteLine(listing);
        Assert.True(connections >= 2, $"found {connections} connections on the gateway's port");
        Assert.True(all, $"{keepalive} of the {connections} connections the gateway accepted have TCP keepalive");
    }

    /// <summary>The TCP connections process <paramref name="pid"/> holds to the gateway's port.</summary>
    private static async Task<int> ConnectionsAsync(int pid, int port)
    {
        var listing = await Command.RunAsync("ss", ["-tnpH", "state", "established", "( dport = :" + port + " )"], Signals.Timeout(10));
        return listing.Stdout.Split('\n').Count(line => line.Contains($"pid={pid},", StringComparison.Ordinal));
    }
}
