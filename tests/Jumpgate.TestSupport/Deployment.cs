using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// A whole Jumpgate on loopback, driven through the real `jumpgate` program: a gateway
/// process, agent processes, and a user's client configuration (its own XDG_CONFIG_HOME)
/// with an ssh_config that `jumpgate ssh-config` wrote.
/// </summary>
public sealed class Deployment : IAsyncDisposable
{
    private readonly ITestOutputHelper? _output;
    private readonly Dictionary<string, ChildProcess> _agents = [];
    private readonly List<ChildProcess> _gateways = [];
    private (string Url, string Password)? _store;
    private IReadOnlyDictionary<string, string>? _gatewayEnvironment;

    private Deployment(ITestOutputHelper? output)
    {
        _output = output;
        Dir = new TempDirectory("jg-deploy");
        GatewayDir = Dir.File("gw");
        ClientHome = Dir.File("client");
        Directory.CreateDirectory(ClientHome);
    }

    public TempDirectory Dir { get; }
    public string GatewayDir { get; }
    public string ClientHome { get; }
    public ChildProcess? Gateway { get; private set; }
    public string GatewayUrl { get; private set; } = "";
    public string Fingerprint { get; private set; } = "";
    public string UserToken { get; private set; } = "";
    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = ClientHome };

    /// <summary>The gateway's audit.jsonl line that holds <paramref name="text"/>, once the audit writer (which gathers before it writes) has written it.</summary>
    public async Task<string> WaitForAuditLineAsync(string text)
    {
        var path = Path.Combine(GatewayDir, "audit.jsonl");
        using var deadline = new CancellationTokenSource(Signals.Timeout(10));
        while (true)
        {
            var line = File.Exists(path)
                ? (await File.ReadAllLinesAsync(path, deadline.Token)).FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal))
                : null;
            if (line is not null)
            {
                return line;
            }
            await Task.Delay(50, deadline.Token);
        }
    }

    /// <summary>Every token this deployment created, so a test can check none of them leaked into a log.</summary>
    public List<string> Tokens { get; } = [];

    /// <summary>
    /// Creates and starts a gateway on a free loopback port and logs a user named researcher in;
    /// <paramref name="gatewayYaml"/> is appended to the gateway.yaml that init wrote (e.g. a short handshake_timeout).
    /// </summary>
    /// <param name="store">A PostgreSQL store for the gateway (and for <see cref="StartAnotherGatewayAsync"/>'s): the URL without its password, and the password, which init reads from PGPASSWORD as an admin keeps it off the command line.</param>
    /// <param name="gatewayEnvironment">Variables the gateway processes get besides the test's own environment.</param>
    public static async Task<Deployment> StartAsync(ITestOutputHelper? output, string listen = "127.0.0.1:0", string? gatewayYaml = null, (string Url, string Password)? store = null,
        IReadOnlyDictionary<string, string>? gatewayEnvironment = null)
    {
        var deployment = new Deployment(output);
        deployment._store = store;
        deployment._gatewayEnvironment = gatewayEnvironment;
        try
        {
            await deployment.SetUpAsync(listen, gatewayYaml);
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }
        return deployment;
    }

    private async Task SetUpAsync(string listen, string? gatewayYaml)
    {
        var deployment = this;
        var init = await InitGatewayAsync(deployment.GatewayDir, listen);
        deployment.Fingerprint = init.Stdout.Trim();
        if (gatewayYaml is not null)
        {
            await File.AppendAllTextAsync(Path.Combine(GatewayDir, "gateway.yaml"), "\n" + gatewayYaml + "\n");
        }
        await deployment.StartGatewayAsync();
        deployment.UserToken = await deployment.AddUserAsync("researcher");
        var login = await deployment.JumpgateAsync("login", deployment.GatewayUrl, "--token", deployment.UserToken, "--fingerprint", deployment.Fingerprint);
        if (login.ExitCode != 0)
        {
            throw new InvalidOperationException($"login failed: {login}");
        }
    }

    /// <summary>Starts (or restarts) the gateway process and waits until it listens; the port is kept across restarts.</summary>
    public async Task StartGatewayAsync()
    {
        Gateway = ChildProcess.Start("gateway", Jumpgate.Executable, ["gateway", "run", "--dir", GatewayDir, "--verbose"], _output, _gatewayEnvironment);
        var listening = await Gateway.WaitForLineAsync(@"listening on https://(\S+) ", Signals.Timeout(60));
        GatewayUrl = "https://" + listening.Groups[1].Value;
        // Pin the port the first start got, so a restart comes back where agents look for it.
        var config = Path.Combine(GatewayDir, "gateway.yaml");
        var text = await File.ReadAllTextAsync(config);
        await File.WriteAllTextAsync(config, Regex.Replace(text, @"(?m)^listen: .*$", "listen: " + listening.Groups[1].Value));
    }

    /// <summary>`gateway init` in <paramref name="dir"/>, on the deployment's store when it has one; <paramref name="extra"/> is added to the arguments.</summary>
    private async Task<CommandResult> InitGatewayAsync(string dir, string listen, params string[] extra)
    {
        List<string> arguments = ["gateway", "init", "--dir", dir, "--listen", listen, "--domain", "localhost", .. extra];
        var environment = new Dictionary<string, string>(ClientEnvironment);
        if (_store is { } store)
        {
            arguments.AddRange(["--store", store.Url]);
            environment["PGPASSWORD"] = store.Password;
        }
        var init = await Command.RunAsync(Jumpgate.Executable, arguments, Signals.Timeout(60), environment, output: _output);
        return init.ExitCode == 0 ? init : throw new InvalidOperationException($"gateway init failed: {init}");
    }

    /// <summary>
    /// A second gateway on the deployment's store, made as an admin makes one (`gateway init --store
    /// … --certificate-from` the first), started on its own loopback port; returns its URL once it listens.
    /// </summary>
    public async Task<(ChildProcess Gateway, string Url)> StartAnotherGatewayAsync(string name)
    {
        var dir = Dir.File(name);
        var init = await InitGatewayAsync(dir, "127.0.0.1:0", "--certificate-from", GatewayDir);
        if (init.Stdout.Trim() != Fingerprint)
        {
            throw new InvalidOperationException($"gateway {name} got certificate {init.Stdout.Trim()}, not the first gateway's {Fingerprint}");
        }
        var gateway = ChildProcess.Start(name, Jumpgate.Executable, ["gateway", "run", "--dir", dir, "--verbose"], _output, _gatewayEnvironment);
        _gateways.Add(gateway);
        var listening = await gateway.WaitForLineAsync(@"listening on https://(\S+) ", Signals.Timeout(60));
        return (gateway, "https://" + listening.Groups[1].Value);
    }

    public async Task<string> AddUserAsync(string name)
    {
        var result = await JumpgateAsync("gateway", "add-user", name, "--dir", GatewayDir);
        Tokens.Add(result.Stdout.Trim());
        return result.ExitCode == 0 ? result.Stdout.Trim() : throw new InvalidOperationException(result.ToString());
    }

    /// <summary>Adds an agent allowed to serve <paramref name="patterns"/> and writes its token file; returns the token file's path.</summary>
    public async Task<string> AddAgentAsync(string name, string patterns)
    {
        // -o writes the token file with mode 0600, as the README tells admins to; the agent refuses one others can read.
        var tokenFile = Dir.File($"{name}.token");
        var result = await JumpgateAsync("gateway", "add-agent", name, "--hosts", patterns, "--dir", GatewayDir, "-o", tokenFile);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(result.ToString());
        }
        Tokens.Add((await File.ReadAllTextAsync(tokenFile)).Trim());
        return tokenFile;
    }

    /// <summary>Writes agent.yaml for <paramref name="name"/> with the given hosts block and starts the agent; waits until it has connected.</summary>
    public async Task<ChildProcess> StartAgentAsync(string name, string hostsYaml, string? netns = null, string? gatewayUrl = null, bool waitConnected = true)
    {
        var config = Dir.File($"{name}.yaml");
        if (!File.Exists(config))
        {
            var tokenFile = File.Exists(Dir.File($"{name}.token")) ? Dir.File($"{name}.token") : await AddAgentAsync(name, "*");
            await File.WriteAllTextAsync(config, $"""
                gateway: {gatewayUrl ?? GatewayUrl}
                token_file: {tokenFile}
                fingerprint: {Fingerprint}
                hosts:
                {Indent(hostsYaml)}
                """);
        }
        var arguments = new List<string> { "agent", "run", "--config", config, "--verbose" };
        var agent = netns is null
            ? ChildProcess.Start($"agent {name}", Jumpgate.Executable, arguments, _output)
            : ChildProcess.Start($"agent {name}", "ip", ["netns", "exec", netns, Jumpgate.Executable, .. arguments], _output);
        _agents[name] = agent;
        if (waitConnected)
        {
            await agent.WaitForLineAsync("connected to https://", Signals.Timeout(60));
            if (System.Text.RegularExpressions.Regex.IsMatch(hostsYaml, @"^\s*ssh:", System.Text.RegularExpressions.RegexOptions.Multiline))
            {
                // The gateway vouches for an ssh service's host keys once the agent has read them, and ssh-config's
                // StrictHostKeyChecking refuses a host without them: the agent says when it has sent them.
                await agent.WaitForLineAsync("sent the SSH host keys of", Signals.Timeout(60));
            }
        }
        return agent;
    }

    public ChildProcess Agent(string name) => _agents[name];

    /// <summary>An ssh_config: what `jumpgate ssh-config` printed, plus the test sshd's key and known_hosts.</summary>
    public async Task<string> WriteSshConfigAsync(Sshd sshd, string? jumpgate = null, bool direct = false, string[]? options = null)
    {
        // `ssh-config` names the program that printed it as ProxyCommand.
        options ??= direct ? ["--direct"] : [];
        var generated = await RunAsClientAsync(jumpgate ?? Jumpgate.Executable, ["ssh-config", .. options]);
        var path = Dir.File(options.Length == 0 ? "ssh_config" : "ssh_config" + string.Concat(options).Replace('-', '_'));
        await File.WriteAllTextAsync(path, $"""
            {generated.Stdout}
            Host *
                User root
                IdentityFile {sshd.ClientKey}
                IdentitiesOnly yes
                UserKnownHostsFile {Dir.File("known_hosts")}
                StrictHostKeyChecking accept-new
                BatchMode yes
                LogLevel ERROR
                ConnectTimeout 60

            """);
        return path;
    }

    /// <summary>Runs the real ssh client with the client's XDG_CONFIG_HOME, so ProxyCommand finds the login.</summary>
    public Task<CommandResult> SshAsync(string sshConfig, params string[] arguments) =>
        Command.RunAsync("ssh", ["-F", sshConfig, .. arguments], Signals.Timeout(60), ClientEnvironment, output: _output);

    /// <summary>
    /// `jumpgate open HOST SERVICE --json` as the logged-in user: the one-time link that signs a
    /// browser in on the service's subdomain, landing on <paramref name="next"/> (the service's root by default).
    /// </summary>
    public async Task<Uri> OpenLinkAsync(string host, string service, string next = "/")
    {
        var result = await JumpgateAsync("open", host, service, "--json");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"jumpgate open failed: {result}");
        }
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var link = json.RootElement.GetProperty("sign_in_url").GetString()!;
        return new Uri(link.Replace("next=%2F", "next=" + Uri.EscapeDataString(next), StringComparison.Ordinal));
    }

    public Task<CommandResult> JumpgateAsync(params string[] arguments) => RunAsClientAsync(Jumpgate.Executable, arguments);

    private Task<CommandResult> RunAsClientAsync(string program, params string[] arguments) =>
        Command.RunAsync(program, arguments, Signals.Timeout(60), ClientEnvironment, output: _output);

    private static string Indent(string yaml) =>
        string.Join('\n', yaml.Split('\n').Select(line => "  " + line));

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents.Values)
        {
            await agent.DisposeAsync();
        }
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        foreach (var gateway in _gateways)
        {
            await gateway.DisposeAsync();
        }
        // After the gateway is gone, so its store and audit files are complete.
        RunLog.KeepGatewayFiles(GatewayDir);
        Dir.Dispose();
    }
}
