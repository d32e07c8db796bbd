using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>
/// A gateway holding a thousand idle streams from several agents still opens new ones at once, and
/// once the users close them the admin's `jumpgate status` counts every stream back to zero.
/// </summary>
public sealed class ManyIdleStreamsTests(ITestOutputHelper output)
{
    private const int Agents = 4;
    private const int Idle = 1000;

    [Fact]
    public async Task KeepsOpeningNewStreamsWhileHoldingAThousandIdleOnesAndCountsThemBackToZeroWhenClosed()
    {
        await using var echo = new EchoServer();
        await using var deployment = await Deployment.StartAsync(output);
        // node1 is served by an agent of its own and carries none of the idle streams: the one new streams go to.
        await deployment.AddAgentAsync("lab-a", "node*");
        await deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                echo: {echo.Port}
            """);
        var configs = await AgentCrowd.WriteConfigsAsync(deployment, Agents, echo.Port);
        await using var crowd = await AgentCrowd.StartAsync(configs, Signals.Timeout(60), output.WriteLine);
        var hosts = AgentCrowd.Hosts(Agents);

        await using var idle = await IdleStreams.OpenAsync(deployment.GatewayUrl, deployment.Fingerprint, deployment.UserToken, hosts, "echo", Idle, Signals.Timeout(60));
        Assert.True(idle.Count == Idle, $"{idle.Count} of {Idle} idle streams opened: {string.Join("; ", idle.Errors)}");
        await LogInAsAdminAsync(deployment);
        var status = await StatusAsync(deployment);
        Assert.Equal(Idle, status.Streams);
        Assert.All(hosts, host => Assert.Equal(Idle / Agents, status.OpenByAgent[host]));

        // New streams beside them: single connections as `proxy` opens them, and streams on a fresh trunk as `forward` does.
        for (var i = 0; i < 20; i++)
        {
            await using var stream = await TunnelClient.ConnectAsync(deployment.GatewayUrl, deployment.UserToken, "node1", "echo", Signals.Timeout(10));
            Assert.True(stream.Ok, stream.Error);
            var payload = new byte[64];
            Random.Shared.NextBytes(payload);
            Assert.Equal(payload, await EchoServer.RoundTripAsync(stream.Stream, payload, Signals.Timeout(10)));
        }
        await using (var fresh = await IdleStreams.OpenAsync(deployment.GatewayUrl, deployment.Fingerprint, deployment.UserToken, ["node1"], "echo", 16, Signals.Timeout(30)))
        {
            Assert.True(fresh.Count == 16, $"{fresh.Count} of 16 new streams opened: {string.Join("; ", fresh.Errors)}");
        }

        await idle.CloseStreamsAsync();
        var drained = await Signals.UntilAsync(async () =>
        {
            status = await StatusAsync(deployment);
            return status.Streams == 0 && status.OpenByAgent.Values.All(open => open == 0);
        }, Signals.Timeout(30), TimeSpan.FromMilliseconds(250));
        Assert.True(drained, $"after closing, the gateway still counts {status.Streams} streams ({string.Join(", ", status.OpenByAgent.Select(a => $"{a.Key} {a.Value}"))})");
    }

    private static async Task LogInAsAdminAsync(Deployment deployment)
    {
        var token = deployment.Dir.File("boss.token");
        var add = await deployment.JumpgateAsync("gateway", "add-admin", "boss", "--dir", deployment.GatewayDir, "-o", token);
        Assert.True(add.ExitCode == 0, add.ToString());
        deployment.Tokens.Add((await File.ReadAllTextAsync(token)).Trim());
        var login = await deployment.JumpgateAsync("admin", "login", deployment.GatewayUrl, "--token-file", token, "--fingerprint", deployment.Fingerprint);
        Assert.True(login.ExitCode == 0, login.ToString());
    }

    /// <summary>What the admin's `jumpgate status --remote --json` says: the live streams, and each online agent's open streams.</summary>
    private static async Task<(int Streams, Dictionary<string, int> OpenByAgent)> StatusAsync(Deployment deployment)
    {
        var result = await deployment.JumpgateAsync("status", "--remote", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var agents = json.RootElement.GetProperty("agents").EnumerateArray()
            .Where(a => a.TryGetProperty("online", out var online) && online.GetBoolean())
            .ToDictionary(a => a.GetProperty("name").GetString()!, a => a.TryGetProperty("open_streams", out var open) ? open.GetInt32() : 0);
        return (json.RootElement.GetProperty("streams").GetArrayLength(), agents);
    }
}
