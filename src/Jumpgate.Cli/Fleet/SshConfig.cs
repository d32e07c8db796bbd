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

    public static string Write(FleetSpec fleet, string configPath, string knownHosts, string controlFolder, bool strict, TimeSpan connectTimeout)
    {
        var text = new StringBuilder();
        text.AppendLine("# Written by `jumpgate fleet apply`, rewritten on every apply; use it with ssh -F.");
        if (fleet.ProxyJump is { } head)
        {
            Host(text, HeadAlias, head, jump: null);
        }
        foreach (var host in fleet.Hosts)
        {
            Host(text, host.Name, host.Ssh, jump: fleet.ProxyJump is null ? null : configPath);
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

    /// <param name="jump">The config's own path when the host is reached through the head node.</param>
    private static void Host(StringBuilder text, string alias, SshTarget target, string? jump)
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
            // As `jumpgate ssh-config` writes it: proxy hands ssh the connection and exits, so no process of ours copies the bytes.
            text.AppendLine($"    ProxyCommand {ClientCommands.SelfCommand()} proxy --fdpass %h %p");
            text.AppendLine("    ProxyUseFdpass yes");
        }
        else if (jump is not null)
        {
            // What ProxyJump does, but on a connection of its own (ControlPath none): over the head's
            // master, a refused connection would be told in the head's log, not this host's. ssh sends
            // a persisting master's ProxyCommand stderr to /dev/null, so the jump logs to a file of its
            // own, at INFO, the level of "open failed: connect failed: Connection refused".
            var log = Quote(JumpLog(Path.GetDirectoryName(jump)!, alias));
            text.AppendLine($"    ProxyCommand ssh -F {Quote(jump)} -o ControlPath=none -o LogLevel=INFO -E {log} -W [%h]:%p {HeadAlias}");
        }
    }

    /// <summary>Where ssh's own errors for a host's master connection go.</summary>
    public static string Log(string folder, string alias) => Path.Combine(folder, FileName(alias) + ".log");

    /// <summary>Where the head node's hop towards a host says why it failed.</summary>
    public static string JumpLog(string folder, string alias) => Path.Combine(folder, FileName(alias) + ".jump.log");

    private static string FileName(string alias) => string.Concat(alias.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_'));

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"\"{path}\"" : path;
}
