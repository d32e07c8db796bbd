using System.Text;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Config;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Import;

/// <summary>A service found in another tool's config: a TCP port, or an HTTP one with the subdomain it had.</summary>
internal sealed record ImportedService(string Name, int Port, bool Http = false, string? Subdomain = null);

/// <summary>A host found in another tool's config, with the address the agent reaches it at.</summary>
internal sealed record ImportedHost(string Name, string Address, List<ImportedService> Services);

/// <summary>
/// What an import found: the hosts for one agent, and a note for everything it could not carry over
/// (with why), so nothing is dropped silently.
/// </summary>
internal sealed class ImportedAgent
{
    public List<ImportedHost> Hosts { get; } = [];

    public List<string> Notes { get; } = [];

    /// <summary>The host named <paramref name="name"/>, added at <paramref name="address"/> when it is new.</summary>
    public ImportedHost Host(string name, string address)
    {
        var host = Hosts.Find(h => h.Name == name);
        if (host is null)
        {
            host = new ImportedHost(name, address, []);
            Hosts.Add(host);
        }
        return host;
    }

    /// <summary>
    /// Adds a service under a name the agent accepts: the original name made a DNS label
    /// (lower case, '_' and '.' to '-'), with a suffix when the host has it already; a change is noted.
    /// </summary>
    public void AddService(ImportedHost host, string original, int port, string where, bool http = false, string? subdomain = null)
    {
        var name = Label(original, "service");
        var unique = name;
        for (var i = 2; host.Services.Exists(s => s.Name == unique); i++)
        {
            unique = $"{name}-{i}";
        }
        if (unique != original)
        {
            Notes.Add($"{where}: service '{original}' is named '{unique}' (service names are {Names.Rule})");
        }
        host.Services.Add(new ImportedService(unique, port, http, subdomain));
    }

    /// <summary>A valid host or service name made from <paramref name="text"/>, or <paramref name="fallback"/> when nothing is left.</summary>
    public static string Label(string text, string fallback)
    {
        var label = new StringBuilder();
        foreach (var c in text.ToLowerInvariant())
        {
            var mapped = char.IsAsciiLetterOrDigit(c) ? c : '-';
            if (mapped != '-' || (label.Length > 0 && label[^1] != '-'))
            {
                label.Append(mapped);
            }
        }
        var result = label.ToString().Trim('-');
        result = result.Length > 63 ? result[..63].TrimEnd('-') : result;
        return Names.IsValid(result) ? result : fallback;
    }

    /// <summary>The agent.yaml: the gateway, the pinned fingerprint, the token file and the hosts, as `agent run` reads it.</summary>
    public string ToYaml(string source, string gateway, string fingerprint, string tokenFile)
    {
        var text = new StringBuilder();
        text.AppendLine($"# agent.yaml imported from {source} by `jumpgate import`; check it with `jumpgate agent doctor --config agent.yaml`.");
        text.AppendLine($"gateway: {gateway}");
        text.AppendLine($"fingerprint: {fingerprint}");
        text.AppendLine($"token_file: {tokenFile}");
        text.AppendLine("hosts:");
        foreach (var host in Hosts)
        {
            text.AppendLine($"  {host.Name}:");
            text.AppendLine($"    address: {host.Address}");
            text.AppendLine("    services:");
            foreach (var service in host.Services)
            {
                if (!service.Http)
                {
                    text.AppendLine($"      {service.Name}: {service.Port}");
                    continue;
                }
                var subdomain = service.Subdomain is null ? "" : $", subdomain: {service.Subdomain}";
                text.AppendLine($"      {service.Name}: {{ port: {service.Port}, http: true{subdomain} }}");
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// Writes the agent.yaml to stdout, or to <paramref name="file"/> created 0600 and never over an
    /// existing one (it names a token file, and an admin's edits in an old one must not be lost).
    /// </summary>
    public static void Write(string yaml, string? file)
    {
        if (file is null)
        {
            Console.Write(yaml);
            return;
        }
        FileStream stream;
        try
        {
            stream = PrivateFile.CreateNew(file);
        }
        catch (IOException) when (File.Exists(file))
        {
            throw new CliException($"{file} already exists; give another file with -o, or remove it first");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot create {file}: {FileErrors.Describe(e, file)}");
        }
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(yaml);
        }
        Console.Error.WriteLine($"agent.yaml written to {file} (mode 0600); run it with `jumpgate agent run --config {file}`");
    }

    /// <summary>The notes on stderr, one a line, so stdout stays the agent.yaml.</summary>
    public void PrintNotes()
    {
        foreach (var note in Notes)
        {
            Console.Error.WriteLine($"note: {note}");
        }
    }
}
