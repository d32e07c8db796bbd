using System.Diagnostics;
using System.Net.Sockets;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Access;

/// <summary>Revoking a rule, a token, a user or an agent closes the live connections it no longer allows, within 5 s.</summary>
public sealed class RevocationTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>The issue's promise: revoked to closed within 5 s (the gateway re-checks every 2 s).</summary>
    private static readonly TimeSpan Promise = TimeSpan.FromSeconds(5);

    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task RevokingTheRuleClosesAStreamThroughJumpgateForwardWithinFiveSeconds()
    {
        var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _fixture.Deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30));
        using var client = new TcpClient();
        await client.ConnectAsync(System.Net.IPEndPoint.Parse(bound.Groups[1].Value));
        var stream = client.GetStream();
        Assert.Equal("before"u8.ToArray(), await EchoServer.RoundTripAsync(stream, "before"u8.ToArray(), Signals.Timeout(10)));
        await _fixture.Deployment.Gateway!.WaitForLineAsync("stream researcher -> node1:echo via lab-a from .* opened", Signals.Timeout(10));

        var revoking = Stopwatch.StartNew();
        await _fixture.AdminAsync("revoke", "@everyone", "*");
        var revoked = revoking.Elapsed;
        var closed = await ReadUntilClosedAsync(stream, Signals.Timeout(15));

        output.WriteLine($"the revoke command took {revoked.TotalSeconds:0.00} s; the stream closed {closed.TotalSeconds:0.00} s after it returned ({(revoked + closed).TotalSeconds:0.00} s after it started)");
        Assert.True(closed < Promise, $"the stream closed {closed.TotalSeconds:0.00} s after the rule was revoked");
        await _fixture.Deployment.Gateway.WaitForLineAsync("closing stream researcher -> node1:echo: the rules changed: user researcher may not reach node1:echo", Signals.Timeout(5));
    }

    [Fact]
    public async Task DisablingAUserClosesTheirStreamAndRefusesThemUntilEnabledAgain()
    {
        await using var stream = await _fixture.ConnectAsync("node1", "echo");
        Assert.True(stream.Ok, stream.Error);

        var timer = Stopwatch.StartNew();
        await _fixture.AdminAsync("disable", "user", "researcher");
        Assert.True(await stream.WaitClosedAsync(Signals.Timeout(15)), "the disabled user's stream stayed open");
        output.WriteLine($"disable to closed stream: {timer.Elapsed.TotalSeconds:0.00} s");
        Assert.True(timer.Elapsed < Promise + TimeSpan.FromSeconds(2), $"took {timer.Elapsed.TotalSeconds:0.00} s including the admin command");

        await using (var refused = await _fixture.ConnectAsync("node1", "echo"))
        {
            Assert.Equal("invalid or revoked token", refused.Error);
        }
        await _fixture.AdminAsync("enable", "user", "researcher");
        await using var again = await _fixture.ConnectAsync("node1", "echo");
        Assert.True(again.Ok, again.Error);
    }

    [Fact]
    public async Task RevokingATokenClosesOnlyTheStreamsThatTokenOpened()
    {
        var second = (await _fixture.AdminAsync("token-add", "user", "researcher")).Stdout.Trim();
        _fixture.Deployment.Tokens.Add(second);
        await using var first = await _fixture.ConnectAsync("node1", "echo");
        await using var other = await _fixture.ConnectAsync("node1", "echo", second);
        Assert.True(first.Ok, first.Error);
        Assert.True(other.Ok, other.Error);

        await _fixture.AdminAsync("token-revoke", AccessFixture.TokenId(second));

        Assert.True(await other.WaitClosedAsync(Signals.Timeout(15)), "the revoked token's stream stayed open");
        Assert.Equal("still"u8.ToArray(), await EchoServer.RoundTripAsync(first.Stream, "still"u8.ToArray(), Signals.Timeout(10)));
        var tokens = await _fixture.AdminAsync("tokens");
        Assert.Contains(tokens.Stdout.Split('\n'), l => l.StartsWith(AccessFixture.TokenId(second), StringComparison.Ordinal) && l.TrimEnd().EndsWith("revoked", StringComparison.Ordinal));
        Assert.DoesNotContain(second[^43..], tokens.Stdout);
    }

    [Fact]
    public async Task AnExpiringTokenWorksUntilItExpiresThenItsStreamClosesAndItIsRefused()
    {
        var shortLived = (await _fixture.AdminAsync("token-add", "user", "researcher", "--expires", "4s")).Stdout.Trim();
        _fixture.Deployment.Tokens.Add(shortLived);
        await using var stream = await _fixture.ConnectAsync("node1", "echo", shortLived);
        Assert.True(stream.Ok, stream.Error);

        // The expiry is the signal: the gateway closes the stream once the token's time is up.
        Assert.True(await stream.WaitClosedAsync(Signals.Timeout(20)), "the expired token's stream stayed open");

        await using var refused = await _fixture.ConnectAsync("node1", "echo", shortLived);
        Assert.Equal("invalid or revoked token", refused.Error);
        await _fixture.Deployment.Gateway!.WaitForLineAsync("closing stream researcher -> node1:echo: user researcher was disabled or the token was revoked or expired", Signals.Timeout(5));
    }

    [Fact]
    public async Task DisablingAnAgentEndsItsSessionAndTheStreamsThroughIt()
    {
        await using var stream = await _fixture.ConnectAsync("node1", "echo");
        Assert.True(stream.Ok, stream.Error);

        await _fixture.AdminAsync("disable", "agent", "lab-a");

        await _fixture.Deployment.Gateway!.WaitForLineAsync("agent lab-a disconnected: revoked: agent lab-a was disabled", Signals.Timeout(15));
        Assert.True(await stream.WaitClosedAsync(Signals.Timeout(10)), "a stream through the disabled agent stayed open");
        await _fixture.Deployment.Agent("lab-a").WaitForLineAsync("the gateway refused this agent: invalid or revoked token", Signals.Timeout(20));
    }

    /// <summary>Reads until the forwarder closes the connection; returns when that happened, measured from the call.</summary>
    private static async Task<TimeSpan> ReadUntilClosedAsync(NetworkStream stream, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, deadline.Token) > 0)
            {
                // Echoed bytes still in flight; the close comes after them.
            }
        }
        catch (IOException)
        {
            // A reset is a close too.
        }
        Assert.False(deadline.IsCancellationRequested, "the stream was not closed");
        return watch.Elapsed;
    }
}
