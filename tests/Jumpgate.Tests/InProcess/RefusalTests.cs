using Jumpgate.Core.Api;
using Jumpgate.Core.Protocol;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// The words a user reads when a stream cannot open, through both ways a user opens one: a
/// connection of its own (`jumpgate proxy`) and a stream on a user trunk (`jumpgate forward`).
/// Each refusal is audited with the same words.
/// </summary>
public sealed class RefusalTests : IClassFixture<RefusalTests.Lab>
{
    private readonly Lab _lab;

    public RefusalTests(Lab lab, ITestOutputHelper output)
    {
        _lab = lab;
        lab.Gateway.Output.Current = output;
    }

    /// <summary>
    /// One gateway for the class: lab-a serves node1 (echo, other), lab-b serves node2 until a test
    /// stops it. Deny by default; researcher may reach everything, student node1's echo and nosuch.
    /// </summary>
    public sealed class Lab : IAsyncLifetime
    {
        internal GatewayInProcess Gateway { get; private set; } = null!;
        internal ScriptedService Service { get; } = ScriptedService.Echo();
        internal AgentInProcess LabA { get; private set; } = null!;
        internal AgentInProcess LabB { get; private set; } = null!;
        internal string StudentToken { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Gateway = await GatewayInProcess.StartAsync(null);
            StudentToken = await Gateway.AddUserAsync("student");
            await Gateway.RestrictAsync(new RuleRequest("researcher", "*"), new RuleRequest("student", "node1", ["echo", "nosuch"]));
            LabA = await AgentInProcess.StartAsync(Gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
            {
                ["node1"] = new Dictionary<string, int> { ["echo"] = Service.Port, ["other"] = Service.Port },
            });
            LabB = await AgentInProcess.StartAsync(Gateway, "lab-b", new Dictionary<string, IReadOnlyDictionary<string, int>>
            {
                ["node2"] = new Dictionary<string, int> { ["echo"] = Service.Port },
            });
        }

        public async Task DisposeAsync()
        {
            await LabA.DisposeAsync();
            await LabB.DisposeAsync();
            await Service.DisposeAsync();
            await Gateway.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AnUnknownHostIsNamedWithWhereToLook(UserPath path)
    {
        var refusal = await RefusalAsync(path, "node9", "echo");

        Assert.Equal("unknown host node9: no agent serves it (`jumpgate ls` lists the hosts you can reach)", refusal);
        var audit = await _lab.Gateway.WaitForAuditAsync(e => e.Host == "node9");
        Assert.Equal(("refused", refusal), (audit.Outcome, audit.Reason));
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AnOfflineHostNamesItsAgentAndWhenItWasLastSeen(UserPath path)
    {
        await _lab.LabB.DisposeAsync();
        // The agent's connections close as it stops; the gateway forgets it when it sees them go.
        Assert.True(await Signals.UntilAsync(async () => !await AgentInProcess.IsServingAsync(_lab.Gateway, "node2", "echo"), Signals.Timeout(10), TimeSpan.FromMilliseconds(20)));

        var refusal = await RefusalAsync(path, "node2", "echo");

        Assert.Matches(@"^host node2 is offline: agent lab-b last seen [0-9]+ (ms|s) ago$", refusal);
    }

    [Theory]
    [InlineData(UserPath.Connect, "other")]
    [InlineData(UserPath.Trunk, "other")]
    [InlineData(UserPath.Connect, "absent")]
    public async Task AServiceTheRulesForbidIsDeniedWhetherOrNotItExists(UserPath path, string service)
    {
        var refusal = await RefusalAsync(path, "node1", service, _lab.StudentToken);

        Assert.Equal($"user student may not reach node1:{service}", refusal);
        var audit = await _lab.Gateway.WaitForAuditAsync(e => e.User == "student" && e.Service == service);
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
    public async Task TheServicesNamedAreOnlyThoseTheUserMayReach()
    {
        Assert.Equal("host node1 has no service 'nosuch' (it has: echo)", await RefusalAsync(UserPath.Connect, "node1", "nosuch", _lab.StudentToken));
    }

    /// <summary>Opens a stream the way <paramref name="path"/> does and returns the refusal's words; fails if it opened.</summary>
    private async Task<string> RefusalAsync(UserPath path, string host, string service, string? token = null)
    {
        var refused = await Assert.ThrowsAsync<GatewayException>(async () => await (await UserStream.OpenAsync(_lab.Gateway, path, host, service, token)).DisposeAsync());
        Assert.True(refused.Refused, refused.Message);
        return refused.Message;
    }
}
