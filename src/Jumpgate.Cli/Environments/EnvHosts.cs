using Jumpgate.Cli.Client;
using Jumpgate.Cli.Fleet;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// The hosts an env command works on and how ssh reaches them: a fleet's hosts with the fleet's own ssh
/// config, or hosts named on the command line with the user's (where `jumpgate ssh-config` put *.jg).
/// </summary>
internal sealed record EnvHosts(IReadOnlyList<string> Names, Ssh Ssh)
{
    public static EnvHosts Resolve(string? fleet, string? hosts, string? sshConfig)
    {
        if ((fleet is null) == (hosts is null))
        {
            throw new CliException("name the hosts with --fleet NAME (a fleet from `jumpgate fleet apply`) or --hosts node1.jg,node2.jg");
        }
        if (fleet is not null)
        {
            var store = FleetStore.Default;
            var state = store.Load(fleet);
            return new EnvHosts(state.Hosts.Select(h => h.Name).ToList(), new Ssh(sshConfig ?? store.SshConfig(fleet), store.Folder(fleet)));
        }
        var names = hosts!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
        if (names.Count == 0)
        {
            throw new CliException("--hosts names no host (expected node1.jg,node2.jg)");
        }
        if (names.FirstOrDefault(n => n.StartsWith('-')) is { } bad)
        {
            throw new CliException($"--hosts: {bad} is not a host name");
        }
        return new EnvHosts(names, Ssh.UserConfig(sshConfig));
    }
}
