using System.Text;
using Jumpgate.Cli.Commands;

namespace Jumpgate.Cli.Fleet;

/// <summary>
/// The OpenSSH config of one fleet: every host by its name in the fleet file, how to reach it (the
/// gateway for <c>*.jg</c> names, the head node for the others when there is one), and the rules
/// every connection shares: no prompts, one multiplexed connection per host, the fleet's own known_hosts.
/// </summary>
internal static class SshConfig
{
    /// <summary>The head node's name inside the fleet's ssh config.</summary>
    public const string HeadAlias = "jumpgate-fleet-head";

    /// <summary>
    /// How long an idle master connection stays up: long enough for `fleet exec` right after
    /// `fleet apply` to reuse it, short enough not to leave processes behind for long.
    /// </summary>
    public static readonly TimeSpan ControlPersist = TimeSpan.FromMinutes(2);

    public static string Write(FleetSpec fleet, string knownHosts, string controlFolder, bool strict, TimeSpan connectTimeout)
    {
        var text = new StringBuilder();
        text.AppendLine("# Written by `jumpgate fleet apply`, rewritten on every apply; use it with ssh -F.");
        if (fleet.ProxyJump is { } head)
        {
            Host(text, HeadAlias, head, jump: false);
        }
        foreach (var host in fleet.Hosts)
        {
            Host(text, host.Name, host.Ssh, jump: fleet.ProxyJump is not null);
        }
        text.AppendLine("Host *");
        text.AppendLine("    BatchMode yes");
        text.AppendLine("    ControlMaster auto");
        text.AppendLine($"    ControlPath {Quote(Path.Combine(controlFolder, "%C"))}");
        text.AppendLine($"    ControlPersist {(int)ControlPersist.TotalSeconds}");
        text.AppendLine($"    UserKnownHostsFile {Quote(knownHosts)}");
        // The machine's own known hosts would let a key recorded elsewhere pass for the fleet's.
        text.AppendLine("    GlobalKnownHostsFile /dev/null");
        text.AppendLine($"    StrictHostKeyChecking {(strict ? "yes" : "accept-new")}");
        text.AppendLine("    UpdateHostKeys no");
        text.AppendLine($"    ConnectTimeout {Math.Max(1, (int)connectTimeout.TotalSeconds)}");
        text.AppendLine("    ServerAliveInterval 15");
        text.AppendLine("    ServerAliveCountMax 3");
        text.AppendLine("    LogLevel ERROR");
        return text.ToString();
    }

    private static void Host(StringBuilder text, string alias, SshTarget target, bool jump)
    {
        text.AppendLine($"Host {alias}");
        text.AppendLine($"    HostName {target.HostName}");
        // Keys are recorded under the name the fleet file uses, whatever path reaches the host.
        text.AppendLine($"    HostKeyAlias {alias}");
        if (target.User is not null)
        {
            text.AppendLine($"    User {target.User}");
        }
        if (target.Port is not null)
        {
            text.AppendLine($"    Port {target.Port}");
        }
        if (target.IdentityFile is not null)
        {
            text.AppendLine($"    IdentityFile {Quote(target.IdentityFile)}");
            text.AppendLine("    IdentitiesOnly yes");
        }
        if (target.ThroughGateway)
        {
            text.AppendLine($"    ProxyCommand {ClientCommands.SelfCommand()} proxy %h %p");
        }
        else if (jump)
        {
            text.AppendLine($"    ProxyJump {HeadAlias}");
        }
    }

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"\"{path}\"" : path;
}
