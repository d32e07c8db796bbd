using System.Security.Cryptography;
using Jumpgate.Cli.Client;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// Trunks die without a word (a link or a middlebox resets them): an agent's, and the one
/// `jumpgate forward` keeps. The next stream still opens, on a trunk still alive or on one dialled
/// afresh, and the user never sees the dead one. Agent and forwarder reach the gateway through
/// relays that can reset their connections.
/// </summary>
public sealed class DeadTrunkTests(ITestOutputHelper output) : IAsyncLifetime
{
    private GatewayInProcess _gateway = null!;
    private ScriptedService _service = null!;
    private CuttableRelay _relay = null!;
    private AgentInProcess _agent = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayInProcess.StartAsync(output);
        _service = ScriptedService.Echo();
        _relay = new CuttableRelay(_gateway.Port);
        _agent = await AgentInProcess.StartAsync(_gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["echo"] = _service.Port },
        }, via: _relay.Url, poolSize: 2);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _relay.DisposeAsync();
        await _service.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData(UserPath.Connect, 2)]
    [InlineData(UserPath.Connect, 1)]
    [InlineData(UserPath.Trunk, 2)]
    public async Task AStreamOpensAfterTheAgentsTrunksWereReset(UserPath path, int trunksCut)
    {
        var chunk = RandomNumberGenerator.GetBytes(4096);
        await using (var first = await UserStream.OpenAsync(_gateway, path, "node1", "echo"))
        {
            await first.WriteAsync(chunk);
            Assert.Equal(chunk, await first.ReadExactlyAsync(chunk.Length));
        }

        // The control connection came through the relay first; both trunks came after it.
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(_relay.Count == 3), Signals.Timeout(10), TimeSpan.FromMilliseconds(10)));
        _relay.Cut(from: 1 + 2 - trunksCut);
        // The stream waits until the agent has dialled its trunks again, so the gateway has seen the
        // resets too: a request that goes out on a trunk dying unnoticed fails with it, by design
        // (docs/decisions.md, "Streams open without waiting for their answer").
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(_relay.Count >= 3 + trunksCut), Signals.Timeout(10), TimeSpan.FromMilliseconds(10)));

        await using var next = await UserStream.OpenAsync(_gateway, path, "node1", "echo");
        await next.WriteAsync(chunk);
        Assert.Equal(chunk, await next.ReadExactlyAsync(chunk.Length));
    }

    [Fact]
    public async Task ForwardDialsAFreshTrunkWhenItsTrunkWasReset()
    {
        await using var relay = new CuttableRelay(_gateway.Port);
        await using var forward = new GatewayTrunk(_gateway.Endpoint with { Address = relay.Url }, _gateway.UserToken, _gateway.TrunkFailed);
        var chunk = RandomNumberGenerator.GetBytes(4096);
        await EchoThroughAsync(forward, chunk);

        relay.Cut(from: 0);

        await EchoThroughAsync(forward, chunk);
        Assert.Equal(2, relay.Count);
    }

    /// <summary>One stream on `forward`'s trunk, as a local connection to it would open one.</summary>
    private static async Task EchoThroughAsync(GatewayTrunk forward, byte[] chunk)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        await using var stream = await forward.StartAsync("node1", "echo", deadline.Token);
        await stream.WriteAsync(chunk, deadline.Token);
        await forward.ReadAnswerAsync(stream, deadline.Token);
        var back = new byte[chunk.Length];
        await stream.ReadExactlyAsync(back, deadline.Token);
        Assert.Equal(chunk, back);
    }
}
