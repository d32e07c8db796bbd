using System.Net;
using System.Net.Sockets;
using System.Text;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Ssh;

/// <summary>
/// `jumpgate gateway expose`: a host's service on a public TCP port of a real gateway, reached by
/// a stock ssh client without the CLI, and closed to sources outside the allow list.
/// </summary>
public sealed class ExposedPortTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Sshd _sshd = null!;
    private EchoServer _echo = null!;
    private Deployment _deployment = null!;

    public async Task InitializeAsync()
    {
        _sshd = await Sshd.StartAsync(output);
        _echo = new EchoServer();
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                ssh: {_sshd.Port}
                echo:
                  port: {_echo.Port}
                  # The tests count the echo server's connections: a health check's connect would be one.
                  health: off
            """);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _echo.DisposeAsync();
        await _sshd.DisposeAsync();
    }

    [Fact]
    public async Task PlainSshReachesTheHostThroughAnExposedPortWithoutTheCli()
    {
        var port = Sshd.FreePort();
        await ExposeAsync("node1:ssh", port, "127.0.0.1/32");

        // No -F config, no ProxyCommand: only the port, as someone without Jumpgate would type it.
        var ssh = await Command.RunAsync("ssh", [
            "-F", "/dev/null", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", _sshd.ClientKey, "-o", "IdentitiesOnly=yes",
            "-o", $"UserKnownHostsFile={_deployment.Dir.File("known_hosts")}", "-o", "StrictHostKeyChecking=accept-new",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=60", "root@127.0.0.1", "echo", "exposed-ok"], Signals.Timeout(60), output: output);

        Assert.True(ssh.ExitCode == 0, ssh.ToString());
        Assert.Equal("exposed-ok", ssh.Stdout.Trim());
        await _deployment.Gateway!.WaitForLineAsync(@"stream expose:node1-ssh -> node1:ssh via lab-a from 127\.0\.0\.1:\d+ opened", Signals.Timeout(10));
        var listed = await _deployment.JumpgateAsync("gateway", "exposed", "--json", "--dir", _deployment.GatewayDir);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Contains("\"name\": \"node1-ssh\"", listed.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"127.0.0.1/32\"", listed.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASourceOutsideTheAllowListIsClosedBeforeAnyByteReachesTheServiceAndAudited()
    {
        var port = Sshd.FreePort();
        await ExposeAsync("node1:echo", port, "127.0.0.1/32");

        using (var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            stranger.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
            Assert.Equal(0, await ConnectAndReadAfterSendingAsync(stranger, port));
        }
        await _deployment.Gateway!.WaitForLineAsync(@"stream expose:node1-echo -> node1:echo refused: 127\.0\.0\.2 is not in the allow list", Signals.Timeout(10));
        Assert.Equal(0, _echo.Accepted);
        Assert.True(await Signals.UntilAsync(async () =>
        {
            var audit = await _deployment.JumpgateAsync("gateway", "audit", "--user", "expose:node1-echo", "--event", "stream", "--json", "--dir", _deployment.GatewayDir);
            return audit.Stdout.Contains("\"outcome\":\"refused\"", StringComparison.Ordinal) && audit.Stdout.Contains("127.0.0.2", StringComparison.Ordinal);
        }, Signals.Timeout(20), TimeSpan.FromMilliseconds(500)), "the refusal was not audited");

        // The same port from an allowed source carries the stream.
        using (var friend = new TcpClient())
        {
            await friend.ConnectAsync(IPAddress.Loopback, port);
            var payload = Encoding.ASCII.GetBytes("through the exposed port");
            Assert.Equal(payload, await EchoServer.RoundTripAsync(friend.GetStream(), payload, Signals.Timeout(30)));
        }
        Assert.Equal(1, _echo.Accepted);

        var unexpose = await _deployment.JumpgateAsync("gateway", "unexpose", "node1-echo", "--dir", _deployment.GatewayDir);
        Assert.True(unexpose.ExitCode == 0, unexpose.ToString());
        Assert.True(await Signals.UntilAsync(async () => !await ConnectsAsync(port), Signals.Timeout(5)), $"port {port} still accepts after unexpose");
    }

    [Fact]
    public async Task ExposeWithoutAnAllowListIsRefusedAndOpensNothing()
    {
        var port = Sshd.FreePort();
        var result = await _deployment.JumpgateAsync("gateway", "expose", "node1:echo", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dir", _deployment.GatewayDir);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--allow", result.Stderr, StringComparison.Ordinal);
        Assert.False(await ConnectsAsync(port));
    }

    [Fact]
    public async Task ThroughTheAdminApiAPortThatCannotBeBoundIsShownAndTheGatewayRunsOn()
    {
        var admin = await _deployment.JumpgateAsync("gateway", "add-admin", "ops", "--dir", _deployment.GatewayDir);
        Assert.True(admin.ExitCode == 0, admin.ToString());
        _deployment.Tokens.Add(admin.Stdout.Trim());
        var tokenFile = _deployment.Dir.File("ops.token");
        await File.WriteAllTextAsync(tokenFile, admin.Stdout.Trim());
        var login = await _deployment.JumpgateAsync("admin", "login", _deployment.GatewayUrl, "--token-file", tokenFile, "--fingerprint", _deployment.Fingerprint);
        Assert.True(login.ExitCode == 0, login.ToString());
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        var taken = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        var free = Sshd.FreePort();

        var busy = await _deployment.JumpgateAsync("gateway", "expose", "node1:echo", "--name", "busy", "--port", taken.ToString(System.Globalization.CultureInfo.InvariantCulture), "--allow", "127.0.0.1/32", "--remote");
        var open = await _deployment.JumpgateAsync("gateway", "expose", "node1:ssh", "--port", free.ToString(System.Globalization.CultureInfo.InvariantCulture), "--allow", "127.0.0.1/32", "--remote");

        Assert.True(busy.ExitCode == 0, busy.ToString());
        Assert.True(open.ExitCode == 0, open.ToString());
        await _deployment.Gateway!.WaitForLineAsync($@"exposed busy is not served by this gateway: cannot listen on 127\.0\.0\.1:{taken}", Signals.Timeout(5));
        await _deployment.Gateway!.WaitForLineAsync($@"exposed node1-ssh listening on 127\.0\.0\.1:{free} ", Signals.Timeout(5));
        var listed = await _deployment.JumpgateAsync("gateway", "exposed", "--remote");
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Contains($"cannot listen on 127.0.0.1:{taken}", listed.Stdout, StringComparison.Ordinal);
        Assert.Contains($"listening on 127.0.0.1:{free}", listed.Stdout, StringComparison.Ordinal);
        var unexpose = await _deployment.JumpgateAsync("gateway", "unexpose", "busy", "--remote");
        Assert.True(unexpose.ExitCode == 0, unexpose.ToString());
        var audit = await _deployment.JumpgateAsync("gateway", "audit", "--event", "admin", "--json", "--remote");
        Assert.Contains("exposed node1:echo on port", audit.Stdout, StringComparison.Ordinal);
        Assert.Contains($"closed port {taken} (expose:busy)", audit.Stdout, StringComparison.Ordinal);
    }

    private async Task ExposeAsync(string target, int port, string allow)
    {
        var result = await _deployment.JumpgateAsync("gateway", "expose", target, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--allow", allow, "--dir", _deployment.GatewayDir);
        Assert.True(result.ExitCode == 0, result.ToString());
        // The running gateway sees the store's change and opens the port (a probe connection would itself open a stream).
        await _deployment.Gateway!.WaitForLineAsync($@"exposed \S+ listening on 127\.0\.0\.1:{port} ", Signals.Timeout(5));
    }

    /// <summary>Sends a byte and reads: 0 when the gateway closed the connection (a reset counts as closed too).</summary>
    /// <summary>
    /// What a stranger reads: 0 when the gateway closed the connection, however the close reached it
    /// (an end of stream, or a reset that can even beat the connect's own completion on loopback).
    /// </summary>
    private static async Task<int> ConnectAndReadAfterSendingAsync(Socket socket, int port)
    {
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return 0;
        }
        using var stream = new NetworkStream(socket, ownsSocket: false);
        return await ReadAfterSendingAsync(stream);
    }

    private static async Task<int> ReadAfterSendingAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(Signals.Timeout(10));
        try
        {
            await stream.WriteAsync("x"u8.ToArray(), timeout.Token);
            return await stream.ReadAsync(new byte[16], timeout.Token);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static async Task<bool> ConnectsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
