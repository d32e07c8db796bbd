using Jumpgate.Cli.Client;

namespace Jumpgate.Cli.Import;

/// <summary>
/// frpc's proxies as one agent's hosts: a proxy on the loopback belongs to the host the agent runs
/// on, one on another localIP to a host of that address; tcp proxies are services by port, http
/// proxies HTTP services with their subdomain. Everything else is a note that says why.
/// </summary>
internal static class FrpcImport
{
    /// <summary>Per-proxy settings with no counterpart, and why.</summary>
    private static readonly Dictionary<string, string> Unsupported = new(StringComparer.Ordinal)
    {
        ["bandwidthlimit"] = "the agent does not limit bandwidth",
        ["bandwidthlimitmode"] = "the agent does not limit bandwidth",
        ["customdomains"] = "HTTP services are reached on subdomains of the gateway's domain",
        ["httpuser"] = "the gateway's browser sign-in and rules decide who reaches a service",
        ["httppassword"] = "the gateway's browser sign-in and rules decide who reaches a service",
        ["httppwd"] = "the gateway's browser sign-in and rules decide who reaches a service",
        ["locations"] = "a service is served whole, not by path",
        ["routebyhttpuser"] = "the gateway's rules decide who reaches a service",
        ["hostheaderrewrite"] = "the service gets the Host it expects (its address), or with preserve_host the public one",
        ["proxyprotocolversion"] = "the agent does not send the PROXY protocol",
        ["group"] = "several agents serving one host are replicas, found by the host's name",
        ["groupkey"] = "several agents serving one host are replicas, found by the host's name",
        ["loadbalancergroup"] = "several agents serving one host are replicas, found by the host's name",
        ["loadbalancergroupkey"] = "several agents serving one host are replicas, found by the host's name",
        ["healthchecktype"] = "add a `health:` check to the service by hand",
        ["healthcheckpath"] = "add a `health:` check to the service by hand",
        ["healthcheckurl"] = "add a `health:` check to the service by hand",
        ["remoteport"] = "users reach the service by name through `jumpgate proxy`/`forward`, not on a port of the gateway",
    };

    /// <summary>Per-proxy settings Jumpgate does on its own, noted once so no one wonders.</summary>
    private static readonly HashSet<string> Implied = ["name", "type", "localip", "localport", "subdomain", "useencryption", "usecompression",
        "healthchecktimeouts", "healthchecktimeoutseconds", "healthcheckmaxfailed", "healthcheckintervals", "healthcheckintervalseconds"];

    public static ImportedAgent Import(FrpFile file, string localHost)
    {
        var agent = new ImportedAgent();
        agent.Notes.Add($"{file.Path}: frpc's own settings (server address, auth token, log, admin UI) are replaced by --gateway, --fingerprint and --token-file");
        if (file.Common.Get("includes") is { } includes)
        {
            agent.Notes.Add($"{file.Path}:{includes.Line}: {includes.Key} = {includes.Text}: the proxies of included files are not read here; import each of them too and merge their hosts");
        }
        if (file.Common.Get("start") is { } start)
        {
            agent.Notes.Add($"{file.Path}:{start.Line}: {start.Key} = {start.Text}: every proxy is imported, not only those started; remove the services you do not want");
        }
        foreach (var proxy in file.Proxies)
        {
            ImportProxy(file, proxy, localHost, agent);
        }
        foreach (var visitor in file.Visitors)
        {
            agent.Notes.Add($"{Where(file, visitor)}: visitor '{visitor.Name}' not imported: a user reaches a service with `jumpgate forward HOST:SERVICE` or `jumpgate proxy`, no second frpc");
        }
        if (agent.Hosts.Count == 0)
        {
            throw new CliException($"{file.Path}: no tcp or http proxy to import{(agent.Notes.Count > 1 ? ":\n  " + string.Join("\n  ", agent.Notes.Skip(1)) : "")}");
        }
        return agent;
    }

    private static void ImportProxy(FrpFile file, FrpSection proxy, string localHost, ImportedAgent agent)
    {
        var where = Where(file, proxy);
        if (proxy.Name.Length == 0)
        {
            throw new CliException($"{where}: name: a proxy needs a name");
        }
        var label = $"proxy '{proxy.Name}'";
        if (proxy.Name.StartsWith("range:", StringComparison.Ordinal))
        {
            agent.Notes.Add($"{where}: {label} not imported: port ranges have no counterpart; list each port as a service");
            return;
        }
        var type = proxy.Get("type")?.Text ?? "tcp";
        var plugin = proxy.Get("plugin")?.Text ?? proxy.Get("plugintype")?.Text;
        if (plugin is not null)
        {
            agent.Notes.Add($"{where}: {label} not imported: plugin {plugin} has no counterpart; the agent only connects to a service's address and port");
            return;
        }
        var why = type switch
        {
            "tcp" or "http" => null,
            "https" => "an https proxy passes TLS through to the service; the gateway ends TLS and speaks HTTP to an `http: true` service",
            "stcp" or "xtcp" or "sudp" => "secret and peer-to-peer proxies have no counterpart; every stream goes through the gateway and its rules decide who may open it",
            "udp" => "the gateway carries TCP streams only",
            "tcpmux" => "HTTP CONNECT multiplexing has no counterpart; users reach each service by name",
            _ => $"type {type} is not an frp proxy type Jumpgate knows",
        };
        if (why is not null)
        {
            agent.Notes.Add($"{where}: {label} not imported ({type}): {why}");
            return;
        }
        var portValue = proxy.Get("localport") ?? throw new CliException($"{where}: localPort: {label} has no local port");
        if (!int.TryParse(portValue.Text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new CliException($"{file.Path}:{portValue.Line}: {portValue.Key}: '{portValue.Text}' is not a port (1-65535)");
        }
        var localIp = proxy.Get("localip")?.Text ?? "127.0.0.1";
        var host = IsLoopback(localIp)
            ? agent.Host(localHost, "127.0.0.1")
            : agent.Host(ImportedAgent.Label(localIp.Replace('.', '-'), "host"), localIp);
        string? subdomain = null;
        if (type == "http")
        {
            subdomain = proxy.Get("subdomain")?.Text;
            if (subdomain is not null && !Core.Naming.Names.IsValid(subdomain))
            {
                var value = proxy.Get("subdomain")!;
                throw new CliException($"{file.Path}:{value.Line}: {value.Key}: '{subdomain}' is not a DNS label Jumpgate serves ({Core.Naming.Names.Rule})");
            }
        }
        agent.AddService(host, proxy.Name, port, where, http: type == "http", subdomain);
        foreach (var value in proxy.Values.OrderBy(v => v.Line))
        {
            var key = FrpSection.Canonical(value.Key);
            if (Implied.Contains(key) || (key == "remoteport" && type == "http"))
            {
                continue;
            }
            agent.Notes.Add(Unsupported.TryGetValue(key, out var reason)
                ? $"{file.Path}:{value.Line}: {label}: {value.Key} not carried over: {reason}"
                : $"{file.Path}:{value.Line}: {label}: {value.Key} not carried over: Jumpgate has no such setting");
        }
    }

    /// <summary>frp's default address; another loopback address (127.0.0.2) is a service of its own, as any other address.</summary>
    private static bool IsLoopback(string address) => address is "127.0.0.1" or "localhost";

    private static string Where(FrpFile file, FrpSection section) => $"{file.Path}:{section.Line}";
}
