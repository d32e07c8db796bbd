using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// Everything a run measures, set up on loopback by the benchmark itself: the services (iperf3,
/// the in-process echo server, nginx), and every path to them: direct, socat, socat relays with
/// TLS in Jumpgate's two shapes, ssh -L, ssh -J through a bastion, and Jumpgate (`forward` on
/// its default path and with --trunk). Every path is checked to carry bytes unchanged before
/// anything is timed. Figures that need other peers (ssh -R, autossh, HAProxy) start their own.
/// </summary>
internal sealed class Rig : IAsyncDisposable
{
    private readonly List<ChildProcess> _processes = [];
    private readonly List<TunnelPath> _paths = [];
    private TlsFiles? _tls;

    private Rig(EchoServer echo)
    {
        Echo = echo;
    }

    public EchoServer Echo { get; }

    /// <summary>The Native AOT `jumpgate` that bench/run publishes for the full run (what the README installs for users), or null.</summary>
    public string? NativeJumpgate { get; init; }

    /// <summary>One iperf3 server per path: iperf3 -s serves one test at a time, and a relay may still be draining the last one.</summary>
    private async Task<int> IperfServerAsync()
    {
        var port = Ports.Free();
        var iperf = Start("iperf3 -s", "iperf3", ["-s", "-B", "127.0.0.1", "-p", $"{port}"]);
        await Ports.WaitListeningAsync(port, "iperf3 -s", iperf, Signals.Timeout(20));
        return port;
    }
    public Nginx? Web { get; private set; }
    public OpenSsh Ssh { get; private set; } = null!;
    public JumpgateRig Jumpgate { get; private set; } = null!;

    public IReadOnlyList<TunnelPath> Paths => _paths;

    public TunnelPath this[string name] => _paths.Single(p => p.Name == name);

    public static async Task<Rig> StartAsync(Action<string> say, string? nativeJumpgate)
    {
        var rig = new Rig(new EchoServer()) { NativeJumpgate = nativeJumpgate };
        try
        {
            await rig.StartPeersAsync(say);
            return rig;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    private async Task StartPeersAsync(Action<string> say)
    {
        say("starting services: echo, nginx, one iperf3 -s per path");
        if (Nginx.Executable is not null)
        {
            Web = await Nginx.StartAsync();
        }
        _paths.Add(new TunnelPath(PathNames.Direct, Echo.Port, await IperfServerAsync(), Web?.UpstreamPort));

        say("starting socat relays");
        _paths.Add(new TunnelPath(PathNames.Socat, await SocatAsync(Echo.Port), await SocatAsync(await IperfServerAsync())));
        // Jumpgate's bytes cross three processes (forwarder, gateway, agent): the same chain in C with
        // Jumpgate's copy size and crypto bounds that shape, with TLS on both legs and with TLS end to end.
        _tls = TlsFiles.Create();
        foreach (var middlePlain in new[] { false, true })
        {
            _paths.Add(new TunnelPath(middlePlain ? PathNames.SocatTlsEndToEnd : PathNames.SocatTlsBothLegs,
                await SocatTlsChainAsync(Echo.Port, middlePlain), await SocatTlsChainAsync(await IperfServerAsync(), middlePlain)));
        }

        say("starting sshd: target, relay, bastion, relay2");
        Ssh = await OpenSsh.StartAsync();
        {
            // ssh -L: what the new-connection figure reads ssh -J's cost against (one process fewer).
            var echo = Ports.Free();
            await Ssh.TunnelAsync("ssh -L", ["-N", "-L", $"127.0.0.1:{echo}:127.0.0.1:{Echo.Port}", "target"], echo);
            _paths.Add(new TunnelPath(PathNames.SshL, echo, null));
        }
        {
            // ssh -J: the new-connection figure's peer in the default path's shape (a new channel in one end-to-end session, relayed as ciphertext).
            var echo = Ports.Free();
            await Ssh.TunnelAsync("ssh -J", ["-N", "-J", "bastion", "-L", $"127.0.0.1:{echo}:127.0.0.1:{Echo.Port}", "target"], echo);
            _paths.Add(new TunnelPath(PathNames.SshJ, echo, null));
        }

        say("starting Jumpgate: gateway, agent, jumpgate forward (default path and --trunk)");
        var services = new Dictionary<string, int> { ["ssh"] = Ssh.Target.Port, ["sink"] = await IperfServerAsync(), ["echo"] = Echo.Port };
        if (Web is not null)
        {
            services["web"] = Web.UpstreamPort;
        }
        Jumpgate = await JumpgateRig.StartAsync(services);
        _paths.Add(new TunnelPath(PathNames.Jumpgate, await Jumpgate.ForwardAsync("echo"), await Jumpgate.ForwardAsync("sink"),
            Web is null ? null : await Jumpgate.ForwardAsync("web")));
        _paths.Add(new TunnelPath(PathNames.JumpgateTrunk, await Jumpgate.ForwardAsync("echo", ForwardPath.Trunk), await Jumpgate.ForwardAsync("sink", ForwardPath.Trunk)));

        say("checking that every path echoes 1 MiB unchanged");
        foreach (var path in _paths)
        {
            await EchoProbe.VerifyAsync(path.Name, path.EchoPort, 1 << 20, Signals.Timeout(30));
        }
    }

    /// <summary>A plain relay with socat's own 8 KiB copies, as the guides run it.</summary>
    private Task<int> SocatAsync(int target) => RelayAsync("socat", [], "TCP-LISTEN:{0},bind=127.0.0.1,reuseaddr,fork", $"TCP:127.0.0.1:{target}");

    /// <summary>
    /// Three socat relays with 128 KiB copies where the first encrypts (as `forward` does), the last decrypts (the
    /// agent), and the middle (the gateway) decrypts and encrypts again, or with <paramref name="middlePlain"/> only copies.
    /// </summary>
    private async Task<int> SocatTlsChainAsync(int target, bool middlePlain)
    {
        var tls = _tls!;
        var server = $"cert={tls.CertificateAndKey},verify=0";
        var client = "verify=0";
        var last = await SocatTlsAsync($"OPENSSL-LISTEN:{{0}},bind=127.0.0.1,reuseaddr,fork,{server}", $"TCP:127.0.0.1:{target}");
        var middle = middlePlain
            ? await SocatTlsAsync("TCP-LISTEN:{0},bind=127.0.0.1,reuseaddr,fork", $"TCP:127.0.0.1:{last}")
            : await SocatTlsAsync($"OPENSSL-LISTEN:{{0}},bind=127.0.0.1,reuseaddr,fork,{server}", $"OPENSSL:127.0.0.1:{last},{client}");
        return await SocatTlsAsync("TCP-LISTEN:{0},bind=127.0.0.1,reuseaddr,fork", $"OPENSSL:127.0.0.1:{middle},{client}");
    }

    // socat has no option for TLS 1.3's suites; an OpenSSL config of its own pins AES-128-GCM, as Jumpgate's legs use.
    private Task<int> SocatTlsAsync(string listen, string connect) =>
        RelayAsync("socat (TLS)", ["-b", "131072"], listen, connect, new Dictionary<string, string> { ["OPENSSL_CONF"] = _tls!.OpenSslConfig });

    /// <summary>Starts socat listening on a free port (<c>{0}</c> in <paramref name="listen"/>) and returns the port once it listens.</summary>
    private async Task<int> RelayAsync(string name, string[] options, string listen, string connect, IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = Ports.Free();
        var socat = Start(name, "socat", [.. options, string.Format(System.Globalization.CultureInfo.InvariantCulture, listen, port), connect], environment);
        await Ports.WaitListeningAsync(port, name, socat, Signals.Timeout(20));
        return port;
    }

    private ChildProcess Start(string name, string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var process = ChildProcess.Start(name, program, arguments, null, environment);
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        if (Jumpgate is not null)
        {
            await Jumpgate.DisposeAsync();
        }
        if (Ssh is not null)
        {
            await Ssh.DisposeAsync();
        }
        foreach (var process in _processes)
        {
            // socat forks a child per connection; take the whole tree.
            var tree = Processes.Tree(process.Id);
            await process.DisposeAsync();
            Processes.Kill(tree);
        }
        if (Web is not null)
        {
            await Web.DisposeAsync();
        }
        await Echo.DisposeAsync();
        _tls?.Dispose();
    }
}
