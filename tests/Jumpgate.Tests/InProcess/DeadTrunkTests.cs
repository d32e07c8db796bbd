using System.Security.Cryptography;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// An agent's trunks die without a word (a link or a middlebox resets them); the next stream
/// still opens, on a trunk still alive or on one the agent dials afresh, and the user never sees
/// the dead one. The agent reaches the gateway through a relay that can reset its connections.
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
        _agent = await AgentInProcess.StartAsync(_gateway, output, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
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

        await using var next = await UserStream.OpenAsync(_gateway, path, "node1", "echo");
        await next.WriteAsync(chunk);
        Assert.Equal(chunk, await next.ReadExactlyAsync(chunk.Length));
    }
}
