using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Cli;

/// <summary>The `jumpgate` CLI as a person and a script use it.</summary>
public sealed class CliTests(ITestOutputHelper output) : IAsyncLifetime
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
                echo:
                  port: {_echo.Port}
                  # unchecked: these tests count the connections that reach the echo server, and a health check's connect is one
                  health: off
                jupyter: {"{"} port: 8888, http: true {"}"}
            """);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _echo.DisposeAsync();
    }

    [Fact]
    public async Task VersionPrintsTheVersion()
    {
        var result = await _deployment.JumpgateAsync("--version");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", result.Stdout.Trim());
    }

    [Fact]
    public async Task OpenTakesAHostAndAServiceOrDashboardAndSaysWhichWhenGivenNeither()
    {
        var dashboard = await _deployment.JumpgateAsync("open", "--dashboard");
        var port = new Uri(_deployment.GatewayUrl).Port;
        Assert.Equal(0, dashboard.ExitCode);
        var lines = dashboard.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"https://localhost:{port}/", lines[0]);
        Assert.Matches($@"^sign in once \(valid 5 minutes\): https://localhost:{port}/signin/link\?code=[0-9a-f]{{64}}$", lines[1]);

        foreach (var (arguments, refusal) in new (string[], string)[]
        {
            (["open"], "give a host and a service (jumpgate open node1 jupyter), or --dashboard"),
            (["open", "node1"], "give a host and a service (jumpgate open node1 jupyter), or --dashboard"),
            (["open", "node1", "jupyter", "--dashboard"], "--dashboard takes no host or service"),
            (["open", "node1", "jupyter", "--admin"], "--admin goes with --dashboard: services are opened as a user"),
        })
        {
            var result = await _deployment.JumpgateAsync(arguments);
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains(refusal, result.Stderr, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("gateway", "init")]
    [InlineData("gateway", "add-agent")]
    [InlineData("agent", "run")]
    [InlineData("login")]
    [InlineData("ls")]
    [InlineData("status")]
    [InlineData("ssh-config")]
    [InlineData("proxy")]
    [InlineData("forward")]
    [InlineData("demo")]
    [InlineData("completion")]
    [InlineData("fleet", "apply")]
    [InlineData("fleet", "ls")]
    [InlineData("fleet", "show")]
    [InlineData("fleet", "exec")]
    [InlineData("fleet", "hostfile")]
    [InlineData("fleet", "run")]
    public async Task HelpOfEveryCommandShowsAnExample(params string[] command)
    {
        var result = await _deployment.JumpgateAsync([.. command, "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Example:", result.Stdout);
        Assert.Contains("jumpgate " + command[0], result.Stdout);
    }

    [Fact]
    public async Task LsListsHostsAndServicesAndJsonIsMachineReadable()
    {
        var table = await _deployment.JumpgateAsync("ls");
        var json = await _deployment.JumpgateAsync("ls", "--json");

        Assert.Equal(0, table.ExitCode);
        Assert.Matches(@"node1\s+online\s+lab-a\s+echo, jupyter \(http\)", table.Stdout);
        using var document = JsonDocument.Parse(json.Stdout);
        var host = Assert.Single(document.RootElement.EnumerateArray());
        Assert.Equal("node1", host.GetProperty("name").GetString());
        Assert.True(host.GetProperty("online").GetBoolean());
        Assert.Equal(["echo", "jupyter"], host.GetProperty("services").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task LsShowsAnOfflineHostWithWhenItWasLastSeen()
    {
        _deployment.Agent("lab-a").Signal(ChildProcess.SIGKILL);
        await _deployment.Gateway!.WaitForLineAsync("agent lab-a disconnected", Signals.Timeout(10));

        var table = await _deployment.JumpgateAsync("ls");

        Assert.Matches(@"node1\s+offline \(\d+ (ms|s) ago\)", table.Stdout);
    }

    [Fact]
    public async Task SettingsAreSavedUnderXdgConfigHomeReadableByTheOwnerOnly()
    {
        var file = Path.Combine(_deployment.ClientHome, "jumpgate", "config.json");

        Assert.True(File.Exists(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Fact]
    public async Task ForwardCarriesManyConnectionsAtOnce()
    {
        var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30))).Groups[1].Value);

        var clients = Enumerable.Range(0, 50).Select(async i =>
        {
            using var client = new TcpClient();
            await client.ConnectAsync(bound);
            var payload = new byte[64 * 1024];
            new Random(i).NextBytes(payload);
            return (payload, back: await EchoServer.RoundTripAsync(client.GetStream(), payload, Signals.Timeout(30)));
        });

        foreach (var (payload, back) in await Task.WhenAll(clients))
        {
            Assert.Equal(payload, back);
        }
        Assert.Equal(50, _echo.Accepted);
    }

    [Fact]
    public async Task ForwardToAnOfflineHostFailsAtOnce()
    {
        var result = await _deployment.JumpgateAsync("forward", "gpu-node-7:ssh", "--local", "127.0.0.1:0");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("unknown host gpu-node-7", result.Stderr);
    }

    [Fact]
    public async Task SshConfigSendsJgHostsThroughJumpgateProxy()
    {
        var result = await _deployment.JumpgateAsync("ssh-config");

        Assert.Contains("Host *.jg", result.Stdout);
        Assert.Matches(@"ProxyCommand \S*jumpgate\S* proxy --fdpass %h %p\n    ProxyUseFdpass yes\n", result.Stdout);
    }

    [Fact]
    public async Task ForwardKeepsWorkingAfterTheGatewayRestarts()
    {
        var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30))).Groups[1].Value);
        Assert.Equal("before"u8.ToArray(), await RoundTripAsync(bound, "before"u8.ToArray()));

        // The forward's spare connections to the gateway die with it; a new stream must not notice.
        _deployment.Gateway!.Signal(ChildProcess.SIGKILL);
        await _deployment.Gateway.Exited.WaitAsync(Signals.Timeout(10));
        await _deployment.StartGatewayAsync();
        await _deployment.Gateway.WaitForLineAsync("agent lab-a connected", Signals.Timeout(30));

        Assert.Equal("after"u8.ToArray(), await RoundTripAsync(bound, "after"u8.ToArray()));
    }

    private static async Task<byte[]> RoundTripAsync(IPEndPoint endpoint, byte[] payload)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(endpoint);
        return await EchoServer.RoundTripAsync(client.GetStream(), payload, Signals.Timeout(30));
    }
}
