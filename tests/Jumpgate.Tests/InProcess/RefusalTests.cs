using Jumpgate.Core.Api;
using Jumpgate.Core.Protocol;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// The words a user reads when a stream cannot open, through both ways a user opens one: a
/// connection of its own (`jumpgate proxy`, <c>connect</c>) and a stream on a user trunk
/// (`jumpgate forward`). Each refusal is audited with the same words.
/// </summary>
public sealed class RefusalTests(ITestOutputHelper output) : IAsyncLifetime
{
    private GatewayInProcess _gateway = null!;
    private ScriptedService _service = null!;
    private AgentInProcess? _agent;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayInProcess.StartAsync(output);
        _service = ScriptedService.Echo();
        _agent = await AgentInProcess.StartAsync(_gateway, output, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["echo"] = _service.Port, ["other"] = _service.Port },
        });
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }
        await _service.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AnUnknownHostIsNamedWithWhereToLook(UserPath path)
    {
        var refusal = await RefusalAsync(path, "node9", "echo");

        Assert.Equal("unknown host node9: no agent serves it (`jumpgate ls` lists the hosts you can reach)", refusal);
        var audit = await _gateway.WaitForAuditAsync(e => e.Host == "node9");
        Assert.Equal(("refused", refusal), (audit.Outcome, audit.Reason));
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AnOfflineHostNamesItsAgentAndWhenItWasLastSeen(UserPath path)
    {
        await _agent!.DisposeAsync();
        _agent = null;
        // The agent's connections close as it stops; the gateway forgets it when it sees them go.
        Assert.True(await Signals.UntilAsync(async () => !await AgentInProcess.IsServingAsync(_gateway, "node1", "echo"), Signals.Timeout(10), TimeSpan.FromMilliseconds(20)));

        var refusal = await RefusalAsync(path, "node1", "echo");

        Assert.Matches(@"^host node1 is offline: agent lab-a last seen [0-9]+ (ms|s) ago$", refusal);
        Assert.Empty(_service.Failures);
    }

    [Theory]
    [InlineData(UserPath.Connect, "other")]
    [InlineData(UserPath.Trunk, "other")]
    [InlineData(UserPath.Connect, "nosuch")]
    public async Task AServiceTheRulesForbidIsDeniedWhetherOrNotItExists(UserPath path, string service)
    {
        await _gateway.RestrictAsync(new RuleRequest("researcher", "node1", ["echo"]));

        var refusal = await RefusalAsync(path, "node1", service);

        Assert.Equal($"user researcher may not reach node1:{service}", refusal);
        var audit = await _gateway.WaitForAuditAsync(e => e.Service == service);
        Assert.Equal(("denied", refusal), (audit.Outcome, audit.Reason));
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AServiceTheHostDoesNotHaveIsNamedWithTheServicesItHas(UserPath path)
    {
        var refusal = await RefusalAsync(path, "node1", "nosuch");

        Assert.Equal("host node1 has no service 'nosuch' (it has: echo, other)", refusal);
    }

    [Fact]
    public async Task TheServicesListedAreOnlyThoseTheUserMayReach()
    {
        await _gateway.RestrictAsync(new RuleRequest("researcher", "node1", ["echo", "nosuch"]));

        Assert.Equal("host node1 has no service 'nosuch' (it has: echo)", await RefusalAsync(UserPath.Connect, "node1", "nosuch"));
    }

    /// <summary>Opens a stream the way <paramref name="path"/> does and returns the refusal's words; fails if it opened.</summary>
    private async Task<string> RefusalAsync(UserPath path, string host, string service)
    {
        var refused = await Assert.ThrowsAsync<GatewayException>(async () => await (await UserStream.OpenAsync(_gateway, path, host, service)).DisposeAsync());
        Assert.True(refused.Refused, refused.Message);
        return refused.Message;
    }
}
