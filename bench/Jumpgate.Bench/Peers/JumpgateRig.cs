using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// Jumpgate as a user runs it, through the real `jumpgate` program: a gateway and one agent
/// (TestSupport's <see cref="Deployment"/>), and `jumpgate forward` listeners on the client side.
/// TLS on both legs, the product's defaults everywhere; the agent runs without --verbose, as in production.
/// </summary>
internal sealed class JumpgateRig : IAsyncDisposable
{
    private readonly Deployment _deployment;
    private readonly Dictionary<string, int> _forwards = [];
    private readonly List<ChildProcess> _forwarders = [];
    private readonly string _agentConfig;

    private JumpgateRig(Deployment deployment, string agentConfig)
    {
        _deployment = deployment;
        _agentConfig = agentConfig;
    }

    public Deployment Deployment => _deployment;

    public ChildProcess? Agent { get; private set; }

    public ChildProcess Gateway => _deployment.Gateway!;

    public IReadOnlyDictionary<string, string> ClientEnvironment => _deployment.ClientEnvironment;

    /// <summary>The gateway and the agent: what the memory figure weighs.</summary>
    public IReadOnlyList<int> ServerPids => [Gateway.Id, Agent!.Id];

    public IReadOnlyList<int> ForwarderPids => [.. _forwarders.Select(f => f.Id)];

    /// <summary>The three processes a stream crosses, by role, for <see cref="Support.ProcessCpu"/>.</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<int> Pids)> Roles => [("gateway", [Gateway.Id]), ("agent", [Agent!.Id]), ("forward", ForwarderPids)];

    /// <summary>The service declared `http: true`, so the gateway also serves it on its subdomain.</summary>
    public const string HttpService = "web";

    /// <summary>The service in front of iperf3's server, the bulk figure's sink.</summary>
    public const string IperfService = "sink";

    /// <summary>
    /// Starts a gateway, logs a user in, and starts an agent serving node1 with the given services (name → port on 127.0.0.1);
    /// on SQLite, or on the PostgreSQL <paramref name="store"/> (URL without its password, and the password);
    /// <paramref name="gatewayYaml"/> is added to the gateway's configuration (a metrics listener).
    /// </summary>
    public static async Task<JumpgateRig> StartAsync(IReadOnlyDictionary<string, int> services, (string Url, string Password)? store = null, string? gatewayYaml = null)
    {
        var deployment = await Deployment.StartAsync(null, gatewayYaml: gatewayYaml, store: store);
        try
        {
            var token = await deployment.AddAgentAsync("lab-a", "*");
            var config = deployment.Dir.File("agent.yaml");
            await File.WriteAllTextAsync(config, $"""
                gateway: {deployment.GatewayUrl}
                token_file: {token}
                fingerprint: {deployment.Fingerprint}
                hosts:
                  node1:
                    address: 127.0.0.1
                    services:
                {string.Join('\n', services.Select(s => s.Key switch
                {
                    HttpService => $"      {s.Key}: {{ port: {s.Value}, http: true }}",
                    // iperf3 -s runs one test at a time and takes a health check's bare connect for a client that failed.
                    IperfService => $"      {s.Key}: {{ port: {s.Value}, health: off }}",
                    _ => $"      {s.Key}: {s.Value}",
                }))}

                """);
            var rig = new JumpgateRig(deployment, config);
            await rig.StartAgentAsync();
            return rig;
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts, killing the old one) the agent and waits until it has registered.</summary>
    public async Task StartAgentAsync()
    {
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }
        Agent = ChildProcess.Start("agent", TestSupport.Jumpgate.Executable, ["agent", "run", "--config", _agentConfig], null);
        await Agent.WaitForLineAsync("connected to https://", Signals.Timeout(30));
    }

    /// <summary>Kills the gateway (SIGKILL, as a crash or a VM reboot would) and waits until it is gone.</summary>
    public async Task KillGatewayAsync()
    {
        Gateway.Signal(ChildProcess.SIGKILL);
        // Not disposed here: the deployment disposes whichever gateway process is current at the end.
        await Gateway.Exited.WaitAsync(Signals.Timeout(10));
    }

    /// <summary>Starts the gateway again on the same port; returns once it logs that it listens.</summary>
    public Task StartGatewayAsync() => _deployment.StartGatewayAsync();

    /// <summary>A fresh gateway and agent (the forwarders stay): what a deploy does, and what sheds streams a figure left open.</summary>
    public async Task RestartAsync()
    {
        await KillGatewayAsync();
        await StartGatewayAsync();
        await StartAgentAsync();
    }

    /// <summary>A `jumpgate forward node1:SERVICE` listener on the path asked for (one per service and path, started once); returns its local port.</summary>
    public async Task<int> ForwardAsync(string service, ForwardPath path = ForwardPath.Default)
    {
        var key = $"{service} {path}";
        if (_forwards.TryGetValue(key, out var known))
        {
            return known;
        }
        string[] option = path switch
        {
            ForwardPath.Direct => ["--direct"],
            ForwardPath.Trunk => ["--trunk"],
            _ => [],
        };
        var forwarder = ChildProcess.Start($"forward {key}", TestSupport.Jumpgate.Executable,
            ["forward", $"node1:{service}", "--local", "127.0.0.1:0", .. option], null, _deployment.ClientEnvironment);
        _forwarders.Add(forwarder);
        var line = await forwarder.WaitForLineAsync(@"forwarding 127\.0\.0\.1:(\d+) ->", Signals.Timeout(60));
        var port = int.Parse(line.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        _forwards[key] = port;
        return port;
    }

    /// <summary>
    /// What wrk needs to load the web service's subdomain like a signed-in browser: the gateway's
    /// port, the Host header and the session cookie (from `jumpgate open`'s one-time link, which
    /// lands on <paramref name="next"/>: a page the service serves).
    /// </summary>
    public async Task<(int Port, string Host, string Cookie)> BrowserSessionAsync(string next = "/")
    {
        var link = await _deployment.OpenLinkAsync("node1", HttpService, next);
        using var browser = new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint);
        var (response, _) = await browser.FollowAsync(link);
        using (response)
        {
            response.EnsureSuccessStatusCode();
        }
        return (browser.Port, link.Authority, browser.CookieHeader(link));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var forwarder in _forwarders)
        {
            await forwarder.DisposeAsync();
        }
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }
        await _deployment.DisposeAsync();
    }
}

/// <summary>Which path `jumpgate forward` is asked for: none named (what users run: a direct session where one can be made), `--direct` (insists), `--trunk`.</summary>
internal enum ForwardPath
{
    Default,
    Direct,
    Trunk,
}
