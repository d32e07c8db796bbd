using Jumpgate.Core.Config;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Agent.Configuration;

/// <summary>A service of a host, as the agent reaches it.</summary>
internal sealed record ServiceTarget(string Name, int Port, bool Http)
{
    public string? Subdomain { get; init; }
    public bool PreserveHost { get; init; }

    /// <summary>The service's own token (from <c>token_file</c>), which the gateway adds to upstream HTTP requests.</summary>
    public string? Token { get; init; }

    /// <summary>How the agent checks the service is alive (<c>health:</c>); default a TCP connect every 5 s.</summary>
    public HealthCheck Health { get; init; } = HealthCheck.Default;
}

/// <summary>A host the agent serves: its address as the agent sees it, and its services.</summary>
internal sealed record HostTarget(string Name, string Address, IReadOnlyDictionary<string, ServiceTarget> Services);

/// <summary>The agent's settings, read from agent.yaml.</summary>
internal sealed record AgentOptions
{
    /// <summary>The gateway this connection set dials: the first of <see cref="Gateways"/>, or the one the runner gave a loop of its own.</summary>
    public required GatewayEndpoint Gateway { get; init; }

    /// <summary>
    /// Every gateway the agent keeps a control connection and trunks to, at once, so that any of
    /// them can reach this agent's hosts (several gateways on one store). Default: <see cref="Gateway"/> alone.
    /// </summary>
    public IReadOnlyList<GatewayEndpoint> Gateways
    {
        get => _gateways ?? [Gateway];
        init => _gateways = value;
    }

    private readonly IReadOnlyList<GatewayEndpoint>? _gateways;

    /// <summary>The agent's token, read from <c>token_file</c> so it never sits in the config or the process list.</summary>
    public required string Token { get; init; }

    public required IReadOnlyDictionary<string, HostTarget> Hosts { get; init; }

    /// <summary>Trunks (connections that carry streams) to keep; default: what the gateway asks for (4 unless its admin changed it).</summary>
    public int? PoolSize { get; init; }

    /// <summary>
    /// The longest wait between reconnect attempts. Default 500 ms: the agent is back within a
    /// second of the gateway listening again, handshake included (a 1 s cap came back after 0.91–0.96 s); at most 5 s.
    /// </summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = DefaultReconnectMaxDelay;

    public static readonly TimeSpan DefaultReconnectMaxDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>How long open streams may run on after Ctrl-C. Default 5 s.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// <c>direct_sessions</c>: whether this agent serves direct sessions (`forward`'s many streams to one service
    /// inside one direct leg pair). Default true; false makes `forward` open legs per stream to this agent, as before sessions.
    /// </summary>
    public bool DirectSessions { get; init; } = true;

    /// <summary>How long the agent waits for a service to accept a connection. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>metrics_listen</c>: a plain-HTTP listener for the agent's <c>/metrics</c>. Default none; an address other than loopback needs <c>metrics_public: true</c>.</summary>
    public System.Net.IPEndPoint? MetricsListen { get; init; }

    public IReadOnlyList<HostAnnouncement> Announcement() =>
    [
        .. Hosts.Values.Select(h => new HostAnnouncement
        {
            Name = h.Name,
            Services = [.. h.Services.Values.Select(s => new ServiceAnnouncement
            {
                Name = s.Name, Port = s.Port, Http = s.Http, Subdomain = s.Subdomain, PreserveHost = s.PreserveHost, Token = s.Token,
                UpstreamHost = s.Http ? UpstreamHost(h.Address, s.Port) : null,
            })],
        }),
    ];

    /// <summary>The Host header a service expects: its address and port as the agent reaches it, IPv6 in brackets.</summary>
    private static string UpstreamHost(string address, int port) =>
        (System.Net.IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address)
        + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static AgentOptions Load(string path) => Parse(YamlFile.Load(path));

    public static AgentOptions Parse(YamlFile file)
    {
        var root = file.Root;
        file.RejectUnknown(root, "", "gateway", "token_file", "fingerprint", "hosts", "pool_size", "reconnect_max_delay", "drain_timeout", "connect_timeout", "metrics_listen", "metrics_public", "direct_sessions");

        var fingerprint = file.String(root, "fingerprint", "fingerprint");
        if (fingerprint is not null && !Fingerprint.TryParse(fingerprint, out _))
        {
            file.Error(YamlFile.Get(root, "fingerprint"), "fingerprint", "expected SHA256:<43 base64 characters>, as `jumpgate gateway fingerprint` prints it");
            fingerprint = null;
        }
        // One URL or a list: every gateway gets a connection set of its own (they share one certificate, so one fingerprint).
        var gateways = new List<GatewayEndpoint>();
        foreach (var (node, field, address) in file.Strings(root, "gateway", "gateway", required: true))
        {
            try
            {
                var endpoint = GatewayEndpoint.Parse(address, fingerprint);
                if (gateways.Any(g => g.ToString() == endpoint.ToString()))
                {
                    file.Error(node, field, $"{endpoint} is listed twice");
                    continue;
                }
                gateways.Add(endpoint);
            }
            catch (FormatException e)
            {
                file.Error(node, field, e.Message);
            }
        }

        var token = "";
        if (file.String(root, "token_file", "token_file", required: true) is { } tokenFile)
        {
            var tokenPath = file.ResolvePath(tokenFile);
            try
            {
                // As OpenSSH refuses a private key others can read: the token lets whoever holds it serve hosts as this agent.
                if (PrivateFile.Exposure(tokenPath, ", and an agent token must be private to the agent's user, as an ssh key is") is { } exposure)
                {
                    file.Error(YamlFile.Get(root, "token_file"), "token_file", exposure);
                }
                token = File.ReadAllText(tokenPath).Trim();
                if (!TokenSecret.TryParse(token, out var parsed) || parsed.Kind != PrincipalKind.Agent)
                {
                    file.Error(YamlFile.Get(root, "token_file"), "token_file", $"{tokenPath} does not hold an agent token (jga_…, as `jumpgate gateway add-agent` prints it)");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                file.Error(YamlFile.Get(root, "token_file"), "token_file", $"cannot read {tokenPath}: {e.Message}");
            }
        }

        var hosts = new Dictionary<string, HostTarget>(StringComparer.Ordinal);
        if (file.Mapping(root, "hosts", "hosts", required: true) is { } hostsNode)
        {
            foreach (var (key, value) in hostsNode.Children)
            {
                if (ParseHost(file, key, value) is { } host)
                {
                    hosts[host.Name] = host;
                }
            }
            if (hostsNode.Children.Count == 0)
            {
                file.Error(hostsNode, "hosts", "lists no hosts; the agent would have nothing to serve");
            }
        }

        var reconnect = file.Duration(root, "reconnect_max_delay", "reconnect_max_delay");
        if (reconnect is { } r && (r < TimeSpan.FromMilliseconds(100) || r > TimeSpan.FromSeconds(5)))
        {
            file.Error(YamlFile.Get(root, "reconnect_max_delay"), "reconnect_max_delay", "must be from 100ms to 5s");
        }
        var options = new AgentOptions
        {
            Gateway = gateways.FirstOrDefault()!,
            Gateways = gateways,
            Token = token,
            Hosts = hosts,
            PoolSize = file.Int(root, "pool_size", "pool_size", 0, 64),
            DirectSessions = file.Bool(root, "direct_sessions", "direct_sessions") ?? true,
            ReconnectMaxDelay = reconnect ?? DefaultReconnectMaxDelay,
            DrainTimeout = file.Duration(root, "drain_timeout", "drain_timeout") ?? TimeSpan.FromSeconds(5),
            ConnectTimeout = file.Duration(root, "connect_timeout", "connect_timeout") ?? TimeSpan.FromSeconds(5),
            MetricsListen = Core.Metrics.MetricsListen.Parse(file, root, "metrics_listen", "metrics_listen", file.Bool(root, "metrics_public", "metrics_public") ?? false, "metrics_public"),
        };
        file.ThrowIfErrors();
        return options;
    }

    private static HostTarget? ParseHost(YamlFile file, YamlNode key, YamlNode value)
    {
        var name = (key as YamlScalarNode)?.Value ?? "";
        var field = $"hosts.{name}";
        if (!Names.IsValid(name))
        {
            file.Error(key, field, $"'{name}' is not a valid host name ({Names.Rule})");
            return null;
        }
        if (value is not YamlMappingNode host)
        {
            file.Error(value, field, "expected a mapping with address and services");
            return null;
        }
        file.RejectUnknown(host, field, "address", "services");
        var address = file.String(host, "address", $"{field}.address", required: true) ?? "";
        if (address.Length > 0 && Uri.CheckHostName(address) == UriHostNameType.Unknown)
        {
            file.Error(YamlFile.Get(host, "address"), $"{field}.address", $"'{address}' is neither an IP address nor a DNS name");
        }
        var services = new Dictionary<string, ServiceTarget>(StringComparer.Ordinal);
        if (file.Mapping(host, "services", $"{field}.services", required: true) is { } servicesNode)
        {
            foreach (var (serviceKey, serviceValue) in servicesNode.Children)
            {
                if (ParseService(file, field, serviceKey, serviceValue) is { } service)
                {
                    services[service.Name] = service;
                }
            }
        }
        return new HostTarget(name, address, services);
    }

    /// <summary>A service is a port (<c>ssh: 22</c>) or a mapping (<c>jupyter: { port: 8888, http: true }</c>).</summary>
    private static ServiceTarget? ParseService(YamlFile file, string hostField, YamlNode key, YamlNode value)
    {
        var name = (key as YamlScalarNode)?.Value ?? "";
        var field = $"{hostField}.services.{name}";
        if (!Names.IsValid(name))
        {
            file.Error(key, field, $"'{name}' is not a valid service name ({Names.Rule})");
            return null;
        }
        if (value is YamlScalarNode)
        {
            var wrapper = new YamlMappingNode { { "port", value } };
            return file.Int(wrapper, "port", field, 1, 65535) is { } port ? new ServiceTarget(name, port, Http: false) : null;
        }
        if (value is not YamlMappingNode service)
        {
            file.Error(value, field, "expected a port number or a mapping such as { port: 8888, http: true }");
            return null;
        }
        file.RejectUnknown(service, field, "port", "http", "subdomain", "preserve_host", "token_file", "health");
        if (YamlFile.Get(service, "port") is null)
        {
            file.Error(service, $"{field}.port", "is required");
            return null;
        }
        var number = file.Int(service, "port", $"{field}.port", 1, 65535);
        var http = file.Bool(service, "http", $"{field}.http") ?? false;
        var subdomain = file.String(service, "subdomain", $"{field}.subdomain");
        if (subdomain is not null && !Names.IsValid(subdomain))
        {
            file.Error(YamlFile.Get(service, "subdomain"), $"{field}.subdomain", $"'{subdomain}' is not a valid DNS label ({Names.Rule})");
        }
        var preserveHost = file.Bool(service, "preserve_host", $"{field}.preserve_host") ?? false;
        string? token = null;
        if (file.String(service, "token_file", $"{field}.token_file") is { } tokenFile)
        {
            var tokenPath = file.ResolvePath(tokenFile);
            try
            {
                token = File.ReadAllText(tokenPath).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                file.Error(YamlFile.Get(service, "token_file"), $"{field}.token_file", $"cannot read {tokenPath}: {e.Message}");
            }
            if (token is { Length: 0 } || token?.Any(char.IsControl) == true)
            {
                file.Error(YamlFile.Get(service, "token_file"), $"{field}.token_file", $"{tokenPath} must hold the service's token on one line");
            }
        }
        if (!http && (subdomain is not null || preserveHost || token is not null))
        {
            file.Error(service, field, "subdomain, preserve_host and token_file apply to HTTP services only; add `http: true`");
        }
        var health = YamlFile.Get(service, "health") is { } healthNode ? HealthCheck.Parse(file, healthNode, $"{field}.health") : HealthCheck.Default;
        return number is { } p ? new ServiceTarget(name, p, http) { Subdomain = subdomain, PreserveHost = preserveHost, Token = token, Health = health } : null;
    }
}
