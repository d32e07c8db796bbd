using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Ssh;

/// <summary>
/// Plain SSH legs, the default for an ssh service: a real sshd behind a real agent and gateway,
/// stock scp and ssh through the default `ssh-config`, the user's side passing a recording relay
/// that keeps every byte the CLI and the gateway exchange.
/// </summary>
public sealed class PlainLegTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Sshd _sshd = null!;
    private Deployment _deployment = null!;
    private RecordingRelay _wire = null!;
    private TempDirectory _home = null!;
    private string _sshConfig = "";

    /// <summary>The client's login, made through the recording relay.</summary>
    private Dictionary<string, string> Environment => new() { ["XDG_CONFIG_HOME"] = _home.Path };

    public async Task InitializeAsync()
    {
        _sshd = await Sshd.StartAsync(output);
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                ssh: {_sshd.Port}
            """);
        _sshConfig = await _deployment.WriteSshConfigAsync(_sshd);
        _wire = await RecordingRelay.StartAsync(IPEndPoint.Parse(new Uri(_deployment.GatewayUrl).Authority));
        _home = new TempDirectory("jumpgate-plain-client-");
        var login = await Command.RunAsync(TestSupport.Jumpgate.Executable,
            ["login", $"https://127.0.0.1:{_wire.Port}", "--token", _deployment.UserToken, "--fingerprint", _deployment.Fingerprint],
            Signals.Timeout(60), Environment, output: output);
        Assert.True(login.ExitCode == 0, login.ToString());
    }

    public async Task DisposeAsync()
    {
        await _wire.DisposeAsync();
        _home.Dispose();
        await _deployment.DisposeAsync();
        await _sshd.DisposeAsync();
    }

    [Fact]
    public async Task ScpCarriesARandomFileBothWaysOnPlainLegsWhileTheWireShowsOnlySsh()
    {
        // The default block hands ssh the plain leg itself: no process of Jumpgate's copies the file on this machine.
        var config = await File.ReadAllTextAsync(_sshConfig);
        Assert.Contains(" proxy --fdpass %h %p\n    ProxyUseFdpass yes\n", config, StringComparison.Ordinal);
        var data = RandomNumberGenerator.GetBytes(4 << 20);
        var upload = _deployment.Dir.File("upload.bin");
        await File.WriteAllBytesAsync(upload, data);
        var remote = _deployment.Dir.File("remote.bin");
        var download = _deployment.Dir.File("download.bin");

        var up = await Command.RunAsync("scp", ["-F", _sshConfig, upload, $"node1.jg:{remote}"], Signals.Timeout(120), Environment, output: output);
        var down = await Command.RunAsync("scp", ["-F", _sshConfig, $"node1.jg:{remote}", download], Signals.Timeout(120), Environment, output: output);

        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(remote)));
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(download)));
        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a closed after [\d.]+ s: closed \(direct, plain legs\), 4\d{6} bytes to the service", Signals.Timeout(10));
        await _deployment.Gateway.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a closed after [\d.]+ s: closed \(direct, plain legs\), \d+ bytes to the service, 4\d{6} bytes to the user", Signals.Timeout(10));

        var recorded = _wire.Recorded();
        var legs = recorded.Where(c => c.Up.AsSpan().StartsWith("JGP1"u8)).ToList();
        output.WriteLine($"the wire carried {recorded.Count} connections, {legs.Count} of them plain legs");
        Assert.Equal(2, legs.Count);
        // Everything else on the wire is TLS: the CLI's requests to the gateway.
        Assert.All(recorded.Except(legs), c => Assert.Equal(0x16, c.Up[0]));
        foreach (var (legUp, legDown) in legs)
        {
            // Up: the hello (21 bytes) and the proof (32), then OpenSSH's own bytes; down: the nonce (32), then sshd's.
            AssertOnlySsh(legUp.AsSpan(21 + 32));
            AssertOnlySsh(legDown.AsSpan(32));
        }
        // No slice of the file crossed the wire in the clear, either way.
        for (var offset = 0; offset + 32 <= data.Length; offset += 64 * 1024)
        {
            var sample = data.AsSpan(offset, 32).ToArray();
            Assert.False(_wire.Contains(sample), $"the file's bytes at {offset} crossed the wire in the clear");
        }
        var audit = await File.ReadAllTextAsync(Path.Combine(_deployment.GatewayDir, "audit.jsonl"));
        Assert.Contains("\"outcome\":\"opened\"", audit, StringComparison.Ordinal);
        Assert.Contains("\"reason\":\"direct, plain legs\"", audit, StringComparison.Ordinal);
    }

    /// <summary>An SSH identification string, then SSH's binary packets, the first a key exchange init (message 20): what any direct ssh shows a wire.</summary>
    private static void AssertOnlySsh(ReadOnlySpan<byte> stream)
    {
        Assert.True(stream.StartsWith("SSH-2.0-"u8), "a plain leg did not start with SSH's identification string");
        var end = stream.IndexOf("\r\n"u8) + 2;
        Assert.InRange(end, 10, 255);
        Assert.Equal(20, stream[end + 5]);
    }

    [Fact]
    public async Task SshHoldsThePlainLegItselfAndNoProxyProcessStays()
    {
        var once = await Command.RunAsync("ssh", ["-F", _sshConfig, "node1.jg", "true"], Signals.Timeout(60), Environment, output: output);
        Assert.True(once.ExitCode == 0, once.ToString());

        // The session's own "opened" line, not the one `ssh true` left: only then has ssh spoken on the leg.
        var opened = new Regex(@"stream researcher -> node1:ssh via lab-a from \S+ opened");
        int Opened() => _deployment.Gateway!.Lines.Count(opened.IsMatch);
        var before = Opened();
        await using var session = ChildProcess.Start("ssh -N", "ssh", ["-F", _sshConfig, "-N", "node1.jg"], output, Environment);
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(Opened() > before), Signals.Timeout(30)), "the gateway never opened the ssh -N session's stream");

        // ssh waits for a ProxyUseFdpass command to exit before it speaks, so an open session proves the proxy is gone;
        // its children say so too once `known-hosts` (run during the key exchange) is done: a relaying
        // ProxyCommand would be one for the whole session.
        var children = "";
        Assert.True(await Signals.UntilAsync(async () =>
        {
            children = (await File.ReadAllTextAsync($"/proc/{session.Id}/task/{session.Id}/children")).Trim();
            return children.Length == 0;
        }, Signals.Timeout(30)), $"ssh still has children: {children}");
        Assert.False(session.Exited.IsCompleted, "ssh -N ended");
    }

    [Fact]
    public async Task ALegThatReplaysAnObservedProofIsRefusedAndAudited()
    {
        await using var session = ChildProcess.Start("ssh -N", "ssh", ["-F", _sshConfig, "-N", "node1.jg"], output, Environment);
        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a from \S+ opened", Signals.Timeout(30));
        var observed = _wire.Recorded().Single(c => c.Up.AsSpan().StartsWith("JGP1"u8)).Up;
        var (hello, proof) = (observed[..21], observed[21..53]);
        Assert.Equal((byte)'u', hello[20]);

        using (var replay = new TcpClient())
        {
            await replay.ConnectAsync(IPEndPoint.Parse(new Uri(_deployment.GatewayUrl).Authority));
            var stream = replay.GetStream();
            using var deadline = new CancellationTokenSource(Signals.Timeout(10));
            await stream.WriteAsync(hello, deadline.Token);
            var nonce = new byte[32];
            await stream.ReadExactlyAsync(nonce, deadline.Token);
            await stream.WriteAsync(proof, deadline.Token);
            await stream.WriteAsync("SSH-2.0-impostor\r\n"u8.ToArray(), deadline.Token);
            Assert.Empty(await ReadToEndAsync(stream, deadline.Token));
        }

        await _deployment.Gateway.WaitForLineAsync(@"refused a leg from 127\.0\.0\.1:\d+ for stream researcher -> node1:ssh: wrong proof for the user's leg \(replayed or forged\)", Signals.Timeout(10));
        var audit = await _deployment.WaitForAuditLineAsync("wrong proof for the user");
        Assert.Contains("\"event\":\"auth\",\"outcome\":\"failed\",\"user\":\"researcher\"", audit, StringComparison.Ordinal);
        Assert.False(session.Exited.IsCompleted, "the real session ended when a replay was refused");
    }

    [Fact]
    public async Task ANonSshServiceDeclaredAsSshIsCutBeforeItsFirstByteReachesTheUser()
    {
        await using var mail = await BannerServer.StartAsync("220 mail.example ESMTP the-banner-must-not-cross\r\n");
        await _deployment.AddAgentAsync("lab-b", "mailhost");
        await _deployment.StartAgentAsync("lab-b", $"""
            mailhost:
              address: 127.0.0.1
              services:
                ssh: {mail.Port}
            """);

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "-v", "mailhost.jg", "22"], Signals.Timeout(30),
            _deployment.ClientEnvironment, stdin: "SSH-2.0-OpenSSH_test\r\n", output: output);

        Assert.Equal("", result.Stdout);
        Assert.Contains("mailhost:22: direct, on plain legs", result.Stderr, StringComparison.Ordinal);
        Assert.True(mail.Accepted > 0, "the agent never reached the service");
        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> mailhost:ssh refused: the service is not SSH \(its first bytes are not an SSH identification string\); plain legs carry only SSH", Signals.Timeout(10));
        var audit = await _deployment.WaitForAuditLineAsync("the service is not SSH");
        Assert.Contains("\"outcome\":\"refused\"", audit, StringComparison.Ordinal);
        Assert.DoesNotContain("the-banner-must-not-cross", audit, StringComparison.Ordinal);
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var all = new MemoryStream();
        try
        {
            await stream.CopyToAsync(all, cancellationToken);
        }
        catch (IOException)
        {
            // A reset ends it too.
        }
        return all.ToArray();
    }

    /// <summary>A service that greets every connection with a line, as SMTP does, and then reads until the peer goes.</summary>
    private sealed class BannerServer : IAsyncDisposable
    {
        private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
        private readonly CancellationTokenSource _stop = new();
        private readonly byte[] _banner;
        private Task _accepting = Task.CompletedTask;
        private int _accepted;

        private BannerServer(string banner)
        {
            _banner = Encoding.ASCII.GetBytes(banner);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public int Accepted => Volatile.Read(ref _accepted);

        public static Task<BannerServer> StartAsync(string banner)
        {
            var server = new BannerServer(banner);
            server._listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            server._listener.Listen(16);
            server._accepting = server.AcceptAsync();
            return Task.FromResult(server);
        }

        private async Task AcceptAsync()
        {
            var serving = new List<Task>();
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptAsync(_stop.Token);
                    Interlocked.Increment(ref _accepted);
                    serving.Add(ServeAsync(client));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
            await Task.WhenAll(serving);
        }

        private async Task ServeAsync(Socket client)
        {
            using (client)
            {
                try
                {
                    await client.SendAsync(_banner, _stop.Token);
                    var buffer = new byte[4096];
                    while (await client.ReceiveAsync(buffer, _stop.Token) > 0)
                    {
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                    // The peer or the test went away.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            await _accepting;
        }
    }
}
