using System.Text.RegularExpressions;
using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Cli.Fleet;

/// <summary>
/// A fleet file in dstack's SSH fleet format: the hosts to reach and how (user, port, key, a head
/// node to jump through). Every problem is reported with file, line and field before anything is applied.
/// </summary>
internal sealed record FleetSpec
{
    public required string Name { get; init; }

    /// <summary>dstack's <c>any</c> (default) or <c>cluster</c> (the hosts reach each other directly).</summary>
    public string Placement { get; init; } = "any";

    public required IReadOnlyList<FleetHostSpec> Hosts { get; init; }

    /// <summary>The head node every host is reached through, or null to reach them directly.</summary>
    public SshTarget? ProxyJump { get; init; }
}

/// <summary>Where and how to log in to one machine; null fields leave the choice to OpenSSH.</summary>
internal sealed record SshTarget
{
    public required string HostName { get; init; }
    public string? User { get; init; }
    public int? Port { get; init; }

    /// <summary>The private key, as an absolute path.</summary>
    public string? IdentityFile { get; init; }

    /// <summary>A Jumpgate host (<c>node1.jg</c>): reached through the gateway with <c>jumpgate proxy</c>.</summary>
    public bool ThroughGateway => HostName.EndsWith(Commands.ClientCommands.HostSuffix, StringComparison.OrdinalIgnoreCase);
}

/// <summary>One host of the fleet: its name in Jumpgate's output is the name written in the file.</summary>
internal sealed record FleetHostSpec
{
    public required string Name { get; init; }
    public required SshTarget Ssh { get; init; }

    /// <summary>dstack's blocks: how many parts the host's GPUs are shared out in; null for <c>auto</c> or unset.</summary>
    public int? Blocks { get; init; }
}

internal static partial class FleetFile
{
    /// <summary>dstack splits a host into at most as many blocks as it has GPUs; no host we know has more than this.</summary>
    public const int MaxBlocks = 64;

    public static FleetSpec Load(string path) => Read(YamlFile.Load(path));

    public static FleetSpec Parse(string path, string text) => Read(YamlFile.FromText(path, text));

    private static FleetSpec Read(YamlFile file)
    {
        var root = file.Root;
        file.RejectUnknown(root, "", "type", "name", "placement", "ssh_config");
        var type = file.String(root, "type", "type", required: true);
        if (type is not null && type != "fleet")
        {
            file.Error(YamlFile.Get(root, "type"), "type", $"expected fleet, not {type}");
        }
        var name = file.String(root, "name", "name", required: true);
        if (name is not null && !FleetName().IsMatch(name))
        {
            file.Error(YamlFile.Get(root, "name"), "name", "expected lower-case letters, digits and dashes (it names a folder)");
        }
        var placement = file.String(root, "placement", "placement") ?? "any";
        if (placement is not ("any" or "cluster"))
        {
            file.Error(YamlFile.Get(root, "placement"), "placement", "expected any or cluster");
        }

        var ssh = file.Mapping(root, "ssh_config", "ssh_config", required: true);
        var hosts = new List<FleetHostSpec>();
        SshTarget? jump = null;
        if (ssh is not null)
        {
            file.RejectUnknown(ssh, "ssh_config", "user", "port", "identity_file", "hosts", "proxy_jump");
            var defaults = new Defaults(
                file.String(ssh, "user", "ssh_config.user"),
                file.Int(ssh, "port", "ssh_config.port", 1, 65535),
                IdentityFile(file, ssh, "ssh_config.identity_file"));
            var jumpNode = file.Mapping(ssh, "proxy_jump", "ssh_config.proxy_jump");
            if (jumpNode is not null)
            {
                file.RejectUnknown(jumpNode, "ssh_config.proxy_jump", "hostname", "user", "port", "identity_file");
                jump = Target(file, jumpNode, "ssh_config.proxy_jump", defaults);
            }
            ReadHosts(file, ssh, defaults, hosts);
        }
        file.ThrowIfErrors();
        return new FleetSpec { Name = name!, Placement = placement, Hosts = hosts, ProxyJump = jump };
    }

    private sealed record Defaults(string? User, int? Port, string? IdentityFile);

    private static void ReadHosts(YamlFile file, YamlMappingNode ssh, Defaults defaults, List<FleetHostSpec> hosts)
    {
        var node = YamlFile.Get(ssh, "hosts");
        if (node is null)
        {
            file.Error(ssh, "ssh_config.hosts", "is required (a list of host names or { hostname, user, port, identity_file, blocks })");
            return;
        }
        if (node is not YamlSequenceNode list || list.Children.Count == 0)
        {
            file.Error(node, "ssh_config.hosts", "expected a non-empty list of host names or { hostname, user, port, identity_file, blocks }");
            return;
        }
        var seen = new Dictionary<string, YamlNode>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < list.Children.Count; i++)
        {
            var field = $"ssh_config.hosts[{i}]";
            var item = list.Children[i];
            FleetHostSpec? host = null;
            switch (item)
            {
                case YamlScalarNode { Value: { Length: > 0 } hostName }:
                    host = new FleetHostSpec { Name = hostName, Ssh = new SshTarget { HostName = hostName, User = defaults.User, Port = defaults.Port, IdentityFile = defaults.IdentityFile } };
                    break;
                case YamlMappingNode mapping:
                    file.RejectUnknown(mapping, field, "hostname", "user", "port", "identity_file", "blocks");
                    var target = Target(file, mapping, field, defaults);
                    host = target is null ? null : new FleetHostSpec { Name = target.HostName, Ssh = target, Blocks = Blocks(file, mapping, field) };
                    break;
                default:
                    file.Error(item, field, "expected a host name or { hostname, user, port, identity_file, blocks }");
                    break;
            }
            if (host is null)
            {
                continue;
            }
            var key = $"{host.Ssh.HostName}:{host.Ssh.Port ?? 22}";
            if (seen.TryGetValue(key, out var first))
            {
                file.Error(item, field, $"{host.Ssh.HostName} is listed twice (first on line {first.Start.Line})");
                continue;
            }
            seen[key] = item;
            hosts.Add(host);
        }
    }

    private static SshTarget? Target(YamlFile file, YamlMappingNode mapping, string field, Defaults defaults)
    {
        var hostName = file.String(mapping, "hostname", field + ".hostname", required: true);
        var user = file.String(mapping, "user", field + ".user") ?? defaults.User;
        var port = file.Int(mapping, "port", field + ".port", 1, 65535) ?? defaults.Port;
        var identity = IdentityFile(file, mapping, field + ".identity_file") ?? defaults.IdentityFile;
        return hostName is null ? null : new SshTarget { HostName = hostName, User = user, Port = port, IdentityFile = identity };
    }

    private static int? Blocks(YamlFile file, YamlMappingNode mapping, string field)
    {
        var node = YamlFile.Get(mapping, "blocks");
        if (node is null or YamlScalarNode { Value: "auto" })
        {
            return null;
        }
        if (node is YamlScalarNode { Value: { } text } && int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var blocks) && blocks is >= 1 and <= MaxBlocks)
        {
            return blocks;
        }
        file.Error(node, field + ".blocks", $"expected a whole number from 1 to {MaxBlocks}, or auto");
        return null;
    }

    /// <summary>The key must exist now: a missing one would otherwise surface as a login failure on every host.</summary>
    private static string? IdentityFile(YamlFile file, YamlMappingNode mapping, string field)
    {
        var value = file.String(mapping, "identity_file", field);
        if (value is null)
        {
            return null;
        }
        var path = value.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), value[2..])
            : file.ResolvePath(value);
        if (!File.Exists(path))
        {
            file.Error(YamlFile.Get(mapping, "identity_file"), field, $"{path} does not exist");
        }
        return path;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$")]
    private static partial Regex FleetName();
}
