using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// The OpenSSH peers, each a throw-away sshd with its own keys (TestSupport's <see cref="Sshd"/>):
/// the target (what ssh -L and ssh -J reach, and the host behind Jumpgate's agent), a relay (what
/// an agent-side ssh -R dials out to from a machine that cannot be reached from outside), a bastion (for ssh -J) and a second relay
/// that the reconnect figure kills and restarts under autossh. One client config, with OpenSSH's
/// default cipher.
/// </summary>
internal sealed class OpenSsh : IAsyncDisposable
{
    private readonly List<ChildProcess> _clients = [];

    private OpenSsh(TempDirectory dir, Sshd target, Sshd relay, Sshd bastion, Sshd restartable)
    {
        Dir = dir;
        Target = target;
        Relay = relay;
        Bastion = bastion;
        Restartable = restartable;
    }

    public TempDirectory Dir { get; }
    public Sshd Target { get; }
    public Sshd Relay { get; }
    public Sshd Bastion { get; }

    /// <summary>The relay the reconnect figure kills; nothing else uses it.</summary>
    public Sshd Restartable { get; }

    public string DefaultCipher { get; private set; } = "?";

    /// <summary>The client config: aliases target, relay, bastion and relay2.</summary>
    public string Config() => Dir.File("ssh_config");

    public static async Task<OpenSsh> StartAsync()
    {
        var servers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Sshd.StartAsync(null)));
        var ssh = new OpenSsh(new TempDirectory("jg-bench-ssh"), servers[0], servers[1], servers[2], servers[3]);
        await File.WriteAllTextAsync(ssh.Config(), ssh.ConfigText());
        var effective = await Command.RunAsync("ssh", ["-G", "-F", ssh.Config(), "target"], Signals.Timeout(30));
        ssh.DefaultCipher = effective.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("ciphers ", StringComparison.Ordinal))?[8..].Split(',')[0].Trim() ?? "?";
        return ssh;
    }

    private string ConfigText() => $"""
        Host target
            HostName 127.0.0.1
            Port {Target.Port}
            IdentityFile {Target.ClientKey}
        Host relay
            HostName 127.0.0.1
            Port {Relay.Port}
            IdentityFile {Relay.ClientKey}
        Host bastion
            HostName 127.0.0.1
            Port {Bastion.Port}
            IdentityFile {Bastion.ClientKey}
        Host relay2
            HostName 127.0.0.1
            Port {Restartable.Port}
            IdentityFile {Restartable.ClientKey}
        Host *
            User root
            IdentitiesOnly yes
            UserKnownHostsFile {Dir.File("known_hosts")}
            StrictHostKeyChecking accept-new
            BatchMode yes
            LogLevel ERROR
            ExitOnForwardFailure yes
            ConnectTimeout 20

        """;

    /// <summary>
    /// Starts a long-running ssh client (a tunnel) and waits until every local or remote port it
    /// forwards listens. The process is killed with the rig.
    /// </summary>
    public async Task<ChildProcess> TunnelAsync(string name, IEnumerable<string> arguments, params int[] ports)
    {
        var client = ChildProcess.Start(name, "ssh", ["-F", Config(), .. arguments], null);
        _clients.Add(client);
        foreach (var port in ports)
        {
            await Ports.WaitListeningAsync(port, name, client, Signals.Timeout(30));
        }
        return client;
    }

    /// <summary>The sshd_config of a throw-away sshd: the only handle on its processes that TestSupport leaves us.</summary>
    public static string ConfigPathOf(Sshd sshd) => Path.Combine(Path.GetDirectoryName(sshd.ClientKey)!, "sshd_config");

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
        foreach (var sshd in new[] { Target, Relay, Bastion, Restartable })
        {
            // sshd's per-connection processes outlive a killed listener; end the whole instance.
            Processes.Kill(Processes.WithCommandLine(ConfigPathOf(sshd)).SelectMany(Processes.Tree).Reverse());
            await sshd.DisposeAsync();
        }
        Dir.Dispose();
    }
}
