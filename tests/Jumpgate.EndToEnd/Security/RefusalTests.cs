using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>What the gateway refuses, how it says so, and that a refusal never disturbs anyone else.</summary>
public sealed class RefusalTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Deployment _deployment = null!;
    private EchoServer _echo = null!;

    public async Task InitializeAsync()
    {
        _echo = new EchoServer();
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*,lab-pc");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                echo:
                  port: {_echo.Port}
                  # unchecked: these tests count the connections that reach the echo server, and a health check's connect is one
                  health: off
            gpu9:
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
    public async Task AnAgentClaimingAHostOutsideItsPatternsIsRefusedAndTheRefusalLogged()
    {
        await _deployment.Gateway!.WaitForLineAsync("refused host gpu9 from agent lab-a: agent lab-a is not allowed to serve host gpu9 \\(allowed: node\\*,lab-pc\\)", Signals.Timeout(5));
        await _deployment.Agent("lab-a").WaitForLineAsync("the gateway refused a host: .*gpu9", Signals.Timeout(5));

        var result = await _deployment.JumpgateAsync("proxy", "gpu9", "echo");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("unknown host gpu9", result.Stderr);
        Assert.Equal(0, _echo.Accepted);
    }

    [Fact]
    public async Task AnUnknownHostIsRefusedWithAMessageAPersonUnderstands()
    {
        var result = await _deployment.JumpgateAsync("proxy", "nosuchhost.jg", "22");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("unknown host nosuchhost: no agent serves it", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public async Task AServiceTheHostDoesNotDeclareIsRefused()
    {
        var result = await _deployment.JumpgateAsync("proxy", "node1", "postgres");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("host node1 has no service 'postgres' (it has: echo)", result.Stderr);
        Assert.Equal(0, _echo.Accepted);
    }

    [Fact]
    public async Task LoginWithAWrongFingerprintIsRefusedAndSaysSo()
    {
        var wrong = "SHA256:" + Convert.ToBase64String(new byte[32]).TrimEnd('=');
        var other = new TempDirectory();
        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable,
            ["login", _deployment.GatewayUrl, "--token", _deployment.UserToken, "--fingerprint", wrong],
            Signals.Timeout(30), new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = other.Path }, output: output);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("did not present the pinned certificate", result.Stderr);
        Assert.False(File.Exists(Path.Combine(other.Path, "jumpgate", "config.json")), "a refused login must not save anything");
        other.Dispose();
    }

    [Fact]
    public async Task AnAgentPinningAnotherFingerprintRefusesTheGateway()
    {
        var tokenFile = await _deployment.AddAgentAsync("lab-b", "lab-pc");
        var config = _deployment.Dir.File("lab-b.yaml");
        var wrong = "SHA256:" + Convert.ToBase64String(new byte[32]).TrimEnd('=');
        await File.WriteAllTextAsync(config, $"""
            gateway: {_deployment.GatewayUrl}
            token_file: {tokenFile}
            fingerprint: {wrong}
            hosts:
              lab-pc:
                address: 127.0.0.1
                services:
                  echo:
                    port: {_echo.Port}
                    # unchecked: these tests count the connections that reach the echo server, and a health check's connect is one
                    health: off
            """);

        var agent = await _deployment.StartAgentAsync("lab-b", "", waitConnected: false);

        await agent.WaitForLineAsync("does not match the pinned fingerprint " + System.Text.RegularExpressions.Regex.Escape(wrong), Signals.Timeout(10));
        Assert.DoesNotContain(agent.Lines, l => l.Contains("connected to", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WrongAndMalformedTokensGetThePlainSameRefusal()
    {
        var valid = _deployment.UserToken;
        var wrongSecret = valid[..^4] + (valid.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        var unknownId = "jgu_000000000000_" + valid[^43..];
        var agentToken = (await File.ReadAllTextAsync(_deployment.Dir.File("lab-a.token"))).Trim();

        foreach (var token in new[] { wrongSecret, unknownId, agentToken, "garbage" })
        {
            var home = new TempDirectory();
            Directory.CreateDirectory(Path.Combine(home.Path, "jumpgate"));
            await File.WriteAllTextAsync(Path.Combine(home.Path, "jumpgate", "config.json"),
                $$"""{ "gateway": "{{_deployment.GatewayUrl}}", "fingerprint": "{{_deployment.Fingerprint}}", "token": "{{token}}" }""");
            var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "node1", "echo"], Signals.Timeout(30),
                new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = home.Path }, output: output);
            home.Dispose();

            Assert.Equal(1, result.ExitCode);
            Assert.Equal("jumpgate: invalid or revoked token", result.Stderr.Trim());
        }
        Assert.Equal(0, _echo.Accepted);
    }

    [Fact]
    public async Task GarbageOnTheGatewayPortIsDroppedWithoutDisturbingAnOpenStream()
    {
        // A stream that is open before, during and after the garbage.
        var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, _deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30));
        using var client = new TcpClient();
        await client.ConnectAsync(System.Net.IPEndPoint.Parse(bound.Groups[1].Value));
        var stream = client.GetStream();
        Assert.Equal("before"u8.ToArray(), await EchoServer.RoundTripAsync(stream, "before"u8.ToArray(), Signals.Timeout(10)));

        var port = new Uri(_deployment.GatewayUrl).Port;
        var random = new Random(7);
        // Plain garbage where TLS is expected.
        for (var i = 0; i < 20; i++)
        {
            var junk = new byte[random.Next(1, 4096)];
            random.NextBytes(junk);
            await SendAndExpectCloseAsync(port, junk, tls: false);
        }
        // Valid TLS, then the tunnel preface followed by garbage, an oversized frame, and a frame that never finishes.
        await SendAndExpectCloseAsync(port, [.. "JGT1"u8, .. "\u0000\u0010not json at all!"u8], tls: true);
        await SendAndExpectCloseAsync(port, [.. "JGT1"u8, 0xFF, 0xFF, .. new byte[100]], tls: true);
        await SendAndExpectCloseAsync(port, [.. "JGT1"u8, 0x00, 0x40, .. "{\"type\":"u8], tls: true, expectCloseWithinSeconds: 15);

        Assert.Equal("after"u8.ToArray(), await EchoServer.RoundTripAsync(stream, "after"u8.ToArray(), Signals.Timeout(10)));
        var ls = await _deployment.JumpgateAsync("ls");
        Assert.Equal(0, ls.ExitCode);
        Assert.DoesNotContain("not json", _deployment.Gateway!.Output);
    }

    private static async Task SendAndExpectCloseAsync(int port, byte[] bytes, bool tls, double expectCloseWithinSeconds = 12)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
        Stream stream = client.GetStream();
        if (tls)
        {
            var ssl = new SslStream(stream, false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync("localhost");
            stream = ssl;
        }
        try
        {
            await stream.WriteAsync(bytes);
            await stream.FlushAsync();
        }
        catch (IOException)
        {
            return; // closed already: that is the point
        }
        using var deadline = new CancellationTokenSource(Signals.Timeout(expectCloseWithinSeconds));
        var buffer = new byte[65536];
        try
        {
            while (await stream.ReadAsync(buffer, deadline.Token) > 0)
            {
                // A refusal frame may come first; the connection must then close.
            }
        }
        catch (IOException)
        {
            // Reset by the gateway: closed.
        }
        Assert.False(deadline.IsCancellationRequested, "the gateway kept a garbage connection open");
    }

    [Fact]
    public async Task AnAgentWithAnUnknownTokenIsRefusedAndKeepsRetrying()
    {
        var tokenFile = _deployment.Dir.File("forged.token");
        await SecretFiles.WriteAsync(tokenFile, "jga_0123456789ab_" + new string('A', 43));
        await File.WriteAllTextAsync(_deployment.Dir.File("forged.yaml"), $"""
            gateway: {_deployment.GatewayUrl}
            token_file: {tokenFile}
            fingerprint: {_deployment.Fingerprint}
            hosts:
              node1:
                address: 127.0.0.1
                services:
                  echo:
                    port: {_echo.Port}
                    # unchecked: these tests count the connections that reach the echo server, and a health check's connect is one
                    health: off
            """);

        var agent = await _deployment.StartAgentAsync("forged", "", waitConnected: false);

        await agent.WaitForLineAsync("the gateway refused this agent: invalid or revoked token; retrying in", Signals.Timeout(20));
        await _deployment.Gateway!.WaitForLineAsync("refused agent connection from .*: invalid token", Signals.Timeout(10));
        Assert.DoesNotContain(agent.Lines, l => l.Contains("connected to", StringComparison.Ordinal));
    }
}
