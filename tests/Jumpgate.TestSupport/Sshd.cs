using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// A throw-away OpenSSH server: its own host key, one authorised ed25519 client key, a high
/// port, and a config that touches nothing of the machine's own sshd. Optionally inside a
/// network namespace the test made.
/// </summary>
public sealed class Sshd : IAsyncDisposable
{
    private readonly TempDirectory _dir = new("jg-sshd");
    private ChildProcess? _process;
    private string _extraConfig = "";
    private IReadOnlyList<string> _launcher = [];

    private Sshd()
    {
    }

    public string Address { get; private set; } = "127.0.0.1";

    public int Port { get; private set; }

    /// <summary>The private key the test's ssh client logs in with.</summary>
    public string ClientKey => _dir.File("client_ed25519");

    public string KnownHosts => _dir.File("known_hosts");

    /// <summary>The server's host public key, as ssh-keygen wrote it (TYPE BASE64 COMMENT).</summary>
    public string HostPublicKey => _dir.File("host_ed25519.pub");

    public static string SshdPath => File.Exists("/usr/sbin/sshd") ? "/usr/sbin/sshd" : "sshd";

    /// <param name="extraConfig">sshd_config lines added to the throw-away config, e.g. <c>SetEnv PATH=…</c>.</param>
    /// <param name="launcher">A command that runs sshd (its command line follows), e.g. unshare giving it a host name and a home of its own.</param>
    public static async Task<Sshd> StartAsync(ITestOutputHelper? output, string? netns = null, string address = "127.0.0.1", string extraConfig = "", IReadOnlyList<string>? launcher = null)
    {
        var sshd = new Sshd { Address = address, _extraConfig = extraConfig, _launcher = launcher ?? [] };
        await sshd.StartCoreAsync(output, netns);
        return sshd;
    }

    private async Task StartCoreAsync(ITestOutputHelper? output, string? netns)
    {
        Directory.CreateDirectory("/run/sshd");
        await KeygenAsync("host_ed25519");
        await KeygenAsync("client_ed25519");
        File.Copy(ClientKey + ".pub", _dir.File("authorized_keys"));
        File.SetUnixFileMode(_dir.File("authorized_keys"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        for (var attempt = 0; attempt < 5; attempt++)
        {
            Port = netns is null ? FreePort() : 22;
            await File.WriteAllTextAsync(_dir.File("sshd_config"), $"""
                Port {Port}
                ListenAddress {Address}
                HostKey {_dir.File("host_ed25519")}
                PidFile none
                AuthorizedKeysFile {_dir.File("authorized_keys")}
                PubkeyAuthentication yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                StrictModes no
                UsePAM no
                LogLevel VERBOSE
                MaxStartups 200
                MaxSessions 50
                Subsystem sftp /usr/lib/openssh/sftp-server
                {_extraConfig}

                """);
            List<string> arguments = [.. _launcher, SshdPath, "-D", "-e", "-f", _dir.File("sshd_config")];
            if (netns is not null)
            {
                arguments.InsertRange(0, ["netns", "exec", netns]);
            }
            _process = ChildProcess.Start("sshd", netns is null ? arguments[0] : "ip", netns is null ? arguments[1..] : arguments, output);
            try
            {
                await _process.WaitForLineAsync("Server listening on", Signals.Timeout(10));
                return;
            }
            catch (TimeoutException) when (netns is null && _process.Exited.IsCompleted && attempt < 4)
            {
                // Another process took the port between our probe and sshd's bind; pick another.
                await _process.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Stops this sshd and starts it again on the same port with a new host key, as a reinstalled
    /// host (or someone standing in for it) would answer; the client key stays.
    /// </summary>
    public async Task RestartWithNewHostKeyAsync(ITestOutputHelper? output, Func<Task>? whileDown = null)
    {
        await _process!.DisposeAsync();
        if (whileDown is not null)
        {
            // What the test waits for while nothing listens (an agent's health check noticing), so that no race decides it.
            await whileDown();
        }
        File.Delete(_dir.File("host_ed25519"));
        File.Delete(_dir.File("host_ed25519.pub"));
        await KeygenAsync("host_ed25519");
        List<string> arguments = [.. _launcher, SshdPath, "-D", "-e", "-f", _dir.File("sshd_config")];
        _process = ChildProcess.Start("sshd", arguments[0], arguments[1..], output);
        await _process.WaitForLineAsync("Server listening on", Signals.Timeout(10));
    }

    private async Task KeygenAsync(string name)
    {
        var result = await Command.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "jumpgate-test", "-f", _dir.File(name)], TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"ssh-keygen failed: {result}");
        }
    }

    /// <summary>
    /// A loopback port nobody listens on right now, for a peer that must be told its port before it
    /// binds it (sshd cannot bind port 0 and tell us which it got). Drawn below Linux's ephemeral
    /// range (32768 and up): a port the kernel hands out for a bind to port 0 or an outgoing
    /// connection, as other tests do all the time, could be taken in the moment between this probe
    /// and the peer's own bind.
    /// </summary>
    public static int FreePort()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(10_000, 32_768);
            using var probe = new TcpListener(IPAddress.Loopback, port);
            try
            {
                probe.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: draw again.
            }
        }
        throw new InvalidOperationException("no free loopback port below 32768 in 100 draws");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
        _dir.Dispose();
    }
}
