using System.Text;
using System.Text.RegularExpressions;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Config;

namespace Jumpgate.Cli.Import;

/// <summary>
/// The hosts of an OpenSSH client config that are reached through a ProxyJump bastion, as an agent
/// on that bastion serves them: each named host with its HostName and Port. The options of a host
/// are OpenSSH's: the first value found for it wins, through every Host block whose patterns match
/// its name, Includes followed in place. Match blocks are not evaluated (they test things only ssh
/// knows at connect time) and named in a note; a wildcard pattern names no machine and is noted.
/// </summary>
internal static partial class SshConfigImport
{
    private const int MaxIncludeDepth = 16;

    /// <summary>A Host (or Match) block: its patterns, where it is, and its options in order.</summary>
    private sealed record Block(string[]? Patterns, string Where, List<(string Keyword, string Value, string Where)> Options);

    /// <summary>A host behind a bastion: its alias in the old config, and what ssh resolved for it.</summary>
    internal sealed record JumpedHost(string Alias, string Address, int Port, string Bastion, string? User, string? IdentityFile);

    public sealed record Result(ImportedAgent Agent, string Bastion, string SshLines);

    public static Result Import(string path, string? bastion, string selfCommand)
    {
        var notes = new List<string>();
        var blocks = new List<Block> { new(["*"], $"{path}:1", []) };
        Read(path, Path.GetDirectoryName(Path.GetFullPath(path))!, blocks, notes, depth: 0);

        var names = new List<(string Name, string Where)>();
        foreach (var block in blocks.Skip(1).Where(b => b.Patterns is not null))
        {
            foreach (var pattern in block.Patterns!)
            {
                if (pattern.IndexOfAny(['*', '?', '!']) >= 0)
                {
                    notes.Add($"{block.Where}: Host {pattern} is a pattern, not a machine; its options apply to the hosts it matches, the pattern itself is not imported");
                }
                else if (!names.Exists(n => n.Name == pattern))
                {
                    names.Add((pattern, block.Where));
                }
            }
        }

        var jumped = new List<JumpedHost>();
        foreach (var (name, where) in names)
        {
            var resolved = Resolve(blocks, name);
            string? Option(string keyword) => resolved.TryGetValue(keyword, out var option) ? option.Value : null;
            var jump = Option("proxyjump");
            if (jump is null || jump.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                if (resolved.ContainsKey("proxycommand"))
                {
                    notes.Add($"{where}: {name} uses a ProxyCommand, not a ProxyJump: not imported; give it a ProxyJump to its bastion, or add it to an agent.yaml by hand");
                }
                continue;
            }
            var address = Option("hostname") ?? name;
            if (address.Contains('%', StringComparison.Ordinal))
            {
                notes.Add($"{where}: {name}: HostName {address} is made from tokens ssh expands; not imported, add it with its address by hand");
                continue;
            }
            var portText = Option("port") ?? "22";
            if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new CliException($"{resolved["port"].Where}: Port: '{portText}' for {name} is not a port (1-65535)");
            }
            // The last hop of a chain (a,b) is the machine that reaches the host: the agent runs there.
            var lastHop = jump.Split(',')[^1].Trim();
            jumped.Add(new JumpedHost(name, address, port, HopHost(lastHop), Option("user"), Option("identityfile")));
        }

        var bastions = jumped.Select(h => h.Bastion).Distinct(StringComparer.Ordinal).ToList();
        if (bastions.Count == 0)
        {
            throw new CliException($"{path}: no host is reached through a ProxyJump bastion; nothing to import");
        }
        var chosen = bastion ?? (bastions.Count == 1 ? bastions[0]
            : throw new CliException($"{path}: hosts are reached through {bastions.Count} bastions ({string.Join(", ", bastions)}); give --bastion NAME, one agent.yaml each"));
        if (!bastions.Contains(chosen))
        {
            throw new CliException($"{path}: no host is reached through bastion {chosen} (bastions: {string.Join(", ", bastions)})");
        }
        foreach (var other in bastions.Where(b => b != chosen))
        {
            notes.Add($"{string.Join(", ", jumped.Where(h => h.Bastion == other).Select(h => h.Alias))} go through bastion {other}: run again with --bastion {other}");
        }

        var agent = new ImportedAgent();
        agent.Notes.AddRange(notes);
        var renamed = new List<(JumpedHost Host, string Name)>();
        foreach (var host in jumped.Where(h => h.Bastion == chosen))
        {
            var name = ImportedAgent.Label(host.Alias, "host");
            for (var i = 2; agent.Hosts.Exists(h => h.Name == name); i++)
            {
                name = $"{ImportedAgent.Label(host.Alias, "host")}-{i}";
            }
            agent.AddService(agent.Host(name, host.Address), "ssh", host.Port, "");
            renamed.Add((host, name));
        }
        return new Result(agent, chosen, SshLines(renamed, selfCommand));
    }

    /// <summary>
    /// The lines for ~/.ssh/config: the *.jg block, the user and key each host had, and an alias
    /// under the old name where the host's Jumpgate name differs (ssh matches Host against the name typed).
    /// </summary>
    private static string SshLines(List<(JumpedHost Host, string Name)> hosts, string selfCommand)
    {
        var text = new StringBuilder(Commands.ClientCommands.SshBlock());
        foreach (var (host, name) in hosts)
        {
            if (host.Alias != name)
            {
                text.AppendLine($"Host {host.Alias}");
                text.AppendLine($"    ProxyCommand {selfCommand} proxy {name} %p");
            }
            else if (host.User is not null || host.IdentityFile is not null)
            {
                text.AppendLine($"Host {name}.jg");
            }
            else
            {
                continue;
            }
            if (host.User is not null)
            {
                text.AppendLine($"    User {host.User}");
            }
            if (host.IdentityFile is not null)
            {
                text.AppendLine($"    IdentityFile {host.IdentityFile}");
            }
        }
        return text.ToString();
    }

    /// <summary>The host of a ProxyJump hop: <c>[user@]host[:port]</c> or <c>ssh://[user@]host[:port]</c>.</summary>
    internal static string HopHost(string hop)
    {
        var host = hop.StartsWith("ssh://", StringComparison.Ordinal) ? hop[6..] : hop;
        host = host[(host.LastIndexOf('@') + 1)..];
        if (host.StartsWith('['))
        {
            return host[1..host.IndexOf(']', StringComparison.Ordinal)];
        }
        var colon = host.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? host : host[..colon];
    }

    /// <summary>OpenSSH's rule: for each option, the first value of the first block that matches the name.</summary>
    private static Dictionary<string, (string Value, string Where)> Resolve(List<Block> blocks, string name)
    {
        var options = new Dictionary<string, (string Value, string Where)>(StringComparer.Ordinal);
        foreach (var block in blocks.Where(b => b.Patterns is not null && Matches(b.Patterns, name)))
        {
            foreach (var (keyword, value, where) in block.Options)
            {
                options.TryAdd(keyword, (value, where));
            }
        }
        return options;
    }

    /// <summary>A Host line matches when one pattern matches and no negated one does.</summary>
    internal static bool Matches(string[] patterns, string name)
    {
        var matched = false;
        foreach (var pattern in patterns)
        {
            var negated = pattern.StartsWith('!');
            var glob = negated ? pattern[1..] : pattern;
            var regex = "^" + Regex.Escape(glob).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$";
            if (Regex.IsMatch(name, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant))
            {
                if (negated)
                {
                    return false;
                }
                matched = true;
            }
        }
        return matched;
    }

    private static void Read(string path, string sshDir, List<Block> blocks, List<string> notes, int depth)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read {path}: {FileErrors.Describe(e, path)}");
        }
        for (var i = 0; i < lines.Length; i++)
        {
            var where = $"{path}:{i + 1}";
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var match = KeywordLine().Match(line);
            if (!match.Success)
            {
                throw new CliException($"{where}: expected `Keyword value`, found '{line}'");
            }
            var keyword = match.Groups[1].Value.ToLowerInvariant();
            var value = match.Groups[2].Value.Trim();
            switch (keyword)
            {
                case "host":
                    blocks.Add(new Block(Words(value), where, []));
                    break;
                case "match":
                    notes.Add($"{where}: Match {value}: not evaluated (it depends on the connection); its options are left out, check the hosts it would change");
                    blocks.Add(new Block(null, where, []));
                    break;
                case "include":
                    foreach (var included in Words(value))
                    {
                        Include(included, where, sshDir, blocks, notes, depth);
                    }
                    break;
                default:
                    blocks[^1].Options.Add((keyword, Unquote(value), where));
                    break;
            }
        }
    }

    private static void Include(string pattern, string where, string sshDir, List<Block> blocks, List<string> notes, int depth)
    {
        if (depth >= MaxIncludeDepth)
        {
            throw new CliException($"{where}: Include {pattern}: nested more than {MaxIncludeDepth} deep (does a file include itself?)");
        }
        var expanded = pattern.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), pattern[2..])
            : Path.IsPathRooted(pattern) ? pattern : Path.Combine(sshDir, pattern);
        var folder = Path.GetDirectoryName(expanded)!;
        var files = Directory.Exists(folder)
            ? Directory.GetFiles(folder, Path.GetFileName(expanded)).Order(StringComparer.Ordinal).ToArray()
            : [];
        if (files.Length == 0)
        {
            notes.Add($"{where}: Include {pattern}: no such file; nothing read");
            return;
        }
        // ssh reads an included file in place: its lines belong to the block the Include is in until its first Host.
        foreach (var file in files)
        {
            Read(file, sshDir, blocks, notes, depth + 1);
        }
    }

    private static string[] Words(string value) => [.. value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(Unquote)];

    private static string Unquote(string value) => value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;

    /// <summary><c>Keyword value</c> or <c>Keyword=value</c>, as ssh_config(5) allows.</summary>
    [GeneratedRegex(@"^([A-Za-z]+)\s*(?:=|\s)\s*(.*)$")]
    private static partial Regex KeywordLine();
}
