using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Cli;

/// <summary>`jumpgate status` for a user and for an admin, and `jumpgate ls --watch`, against a real gateway and agent.</summary>
public sealed class StatusTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Deployment _deployment = null!;
    private EchoServer _echo = null!;

    public async Task InitializeAsync()
    {
        _echo = new EchoServer();
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                echo: {_echo.Port}
            """);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _echo.DisposeAsync();
    }

    [Fact]
    public async Task StatusShowsAUserTheGatewayAndTheirHostsAndAnAdminTheAgentsAndLiveStreams()
    {
        var user = await _deployment.JumpgateAsync("status");
        Assert.True(user.ExitCode == 0, user.ToString());
        Assert.Matches(@"gateway\s+https://127\.0\.0\.1:\d+: reachable, round trip [\d.]+ ms", user.Stdout);
        Assert.Matches(@"you\s+researcher", user.Stdout);
        Assert.Matches(@"node1\s+online\s+lab-a\s+echo", user.Stdout);
        using (var json = JsonDocument.Parse((await _deployment.JumpgateAsync("status", "--json")).Stdout))
        {
            Assert.Equal("researcher", json.RootElement.GetProperty("user").GetString());
            Assert.True(json.RootElement.GetProperty("round_trip_ms").GetDouble() > 0);
            Assert.Equal("node1", Assert.Single(json.RootElement.GetProperty("hosts").EnumerateArray()).GetProperty("name").GetString());
        }

        // An admin sees the agent, and through the running gateway the stream open now.
        var adminToken = _deployment.Dir.File("boss.token");
        Assert.Equal(0, (await _deployment.JumpgateAsync("gateway", "add-admin", "boss", "--dir", _deployment.GatewayDir, "-o", adminToken)).ExitCode);
        _deployment.Tokens.Add((await File.ReadAllTextAsync(adminToken)).Trim());
        var login = await _deployment.JumpgateAsync("admin", "login", _deployment.GatewayUrl, "--token-file", adminToken, "--fingerprint", _deployment.Fingerprint);
        Assert.True(login.ExitCode == 0, login.ToString());
        await using var stream = await TunnelClient.ConnectAsync(_deployment.GatewayUrl, _deployment.UserToken, "node1", "echo", Signals.Timeout(30));
        Assert.True(stream.Ok, stream.Error);
        await EchoServer.RoundTripAsync(stream.Stream, "hello"u8.ToArray(), Signals.Timeout(10));

        var remote = await _deployment.JumpgateAsync("status", "--remote");
        Assert.True(remote.ExitCode == 0, remote.ToString());
        Assert.Matches(@"lab-a\s+online [^(]+\(127\.0\.0\.1:\d+\)\s+\d+\s+1\s+node1", remote.Stdout);
        Assert.Matches(@"researcher\s+node1:echo\s+lab-a\s+.+?\s+5 B\s+5 B", remote.Stdout);
        using (var json = JsonDocument.Parse((await _deployment.JumpgateAsync("status", "--remote", "--json")).Stdout))
        {
            var live = Assert.Single(json.RootElement.GetProperty("streams").EnumerateArray());
            Assert.Equal("researcher", live.GetProperty("user").GetString());
            Assert.Equal(5, live.GetProperty("bytes_to_service").GetInt64());
        }

        // The store alone knows the agents, not who is online or what flows, and says so.
        var local = await _deployment.JumpgateAsync("status", "--dir", _deployment.GatewayDir);
        Assert.True(local.ExitCode == 0, local.ToString());
        Assert.Contains("lab-a", local.Stdout);
        Assert.Contains("live streams: only the running gateway knows them", local.Stdout);
    }

    [Fact]
    public async Task LsWatchRedrawsWhenAHostGoesOfflineAndStopsOnCtrlC()
    {
        var watch = ChildProcess.Start("ls --watch", TestSupport.Jumpgate.Executable, ["ls", "--watch", "--json", "--interval", "1s"], output, _deployment.ClientEnvironment);
        await using var _ = watch;
        await watch.WaitForLineAsync(@"""online"":true", Signals.Timeout(30));

        _deployment.Agent("lab-a").Signal(ChildProcess.SIGKILL);
        await watch.WaitForLineAsync(@"""online"":false", Signals.Timeout(30));
        // One line per change: nothing changed between the looks before the kill, so exactly two.
        Assert.Equal(2, watch.Lines.Count(l => l.StartsWith('[')));

        watch.Signal(ChildProcess.SIGINT);
        Assert.Equal(0, await watch.Exited.WaitAsync(Signals.Timeout(10)));
    }
}
