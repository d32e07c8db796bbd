using System.Text;
using Jumpgate.TestSupport;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Environments;

/// <summary>
/// Hosts for `jumpgate env`: one throw-away sshd each on loopback, each with its own environment
/// (sshd's SetEnv) and, optionally, a folder of its own mounted on a path all hosts share (a mount
/// namespace per sshd), so that one path holds a different venv on each host; and an ssh config naming
/// them, which the CLI is given with --ssh-config as a user's own would be.
/// </summary>
internal sealed class LoopbackHosts : IAsyncDisposable
{
    private readonly List<Sshd> _sshds = [];

    private LoopbackHosts(string configPath) => ConfigPath = configPath;

    public string ConfigPath { get; }

    public IReadOnlyList<string> Names { get; private set; } = [];

    /// <param name="hosts">Per host, its name, the variables its logins see (PATH=…), and a folder mounted on <paramref name="sharedPath"/> for it.</param>
    public static async Task<LoopbackHosts> StartAsync(ITestOutputHelper output, string folder, string? sharedPath, params (string Name, string Environment, string? Mount)[] hosts)
    {
        var result = new LoopbackHosts(Path.Combine(folder, "ssh_config"));
        var config = new StringBuilder();
        foreach (var (name, environment, mount) in hosts)
        {
            var sshd = await Sshd.StartAsync(output, extraConfig: $"SetEnv {environment}",
                launcher: mount is null ? null : ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"", "sh", mount, sharedPath!]);
            result._sshds.Add(sshd);
            config.AppendLine($"Host {name}");
            config.AppendLine($"    HostName 127.0.0.1");
            config.AppendLine($"    Port {sshd.Port}");
            config.AppendLine($"    User root");
            config.AppendLine($"    IdentityFile {sshd.ClientKey}");
            config.AppendLine($"    IdentitiesOnly yes");
        }
        config.AppendLine("Host *");
        config.AppendLine("    StrictHostKeyChecking no");
        config.AppendLine("    UserKnownHostsFile /dev/null");
        config.AppendLine("    LogLevel ERROR");
        await File.WriteAllTextAsync(result.ConfigPath, config.ToString());
        result.Names = hosts.Select(e => e.Name).ToList();
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var sshd in _sshds)
        {
            await sshd.DisposeAsync();
        }
    }
}
