using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Jumpgate.Agent.Hosting;
using Jumpgate.Cli.Client;
using Jumpgate.Cli.Logging;
using Jumpgate.Core.Background;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Cli.Commands;

/// <summary>
/// <c>jumpgate demo</c>: the whole product on one machine. A gateway, an agent serving a small
/// web service (and a throw-away sshd where sshd is installed), and a forward to it.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var dir = new Option<string?>("--dir") { Description = "Where to keep the demo's gateway, agent and client files (default: a new temporary directory)" };
        var listen = new Option<string>("--listen") { Description = "The gateway's address", DefaultValueFactory = _ => "127.0.0.1:7443" };
        var local = new Option<string>("--local") { Description = "Where the demo forward listens", DefaultValueFactory = _ => "127.0.0.1:8080" };
        var command = new Command("demo", Options.Describe(
            "Run a gateway, an agent and a demo service on this machine, and forward a local port to the service through them, until Ctrl-C.",
            "jumpgate demo",
            "curl http://127.0.0.1:8080/      # in another terminal: served through gateway and agent"))
        {
            dir, listen, local,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var directory = Path.GetFullPath(result.GetValue(dir) ?? Path.Combine(Path.GetTempPath(), $"jumpgate-demo-{Environment.ProcessId}"));
            await RunAsync(directory, result.GetValue(listen)!, result.GetValue(local)!, cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(string directory, string listenText, string localText, CancellationToken cancellationToken)
    {
        if (!GatewayOptions.TryParseEndpoint(listenText, out var listen) || !IPEndPoint.TryParse(localText, out var local))
        {
            throw new CliException("--listen and --local take an address and port such as 127.0.0.1:7443");
        }
        using var logs = LoggingSetup.CreateFactory(verbose: false);
        var gatewayDir = Path.Combine(directory, "gateway");
        var fingerprint = Directory.Exists(gatewayDir) ? null : GatewayInit.Run(gatewayDir, listen, "localhost", null, null);
        using var store = GatewayOptions.Load(gatewayDir).Store.Open(TimeSpan.FromSeconds(2));
        fingerprint ??= Fingerprint.Of(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(GatewayOptions.Load(gatewayDir).CertificatePath)));

        await using var web = DemoWebService.Start();
        var (sshd, noSsh) = await DemoSshd.TryStartAsync(directory, cancellationToken);
        await using var _ = sshd;
        var agentToken = store.Principals.Add(PrincipalKind.Agent, $"demo-{Environment.ProcessId}", Core.Naming.HostPatterns.Parse("*"), DateTimeOffset.UtcNow);
        var userToken = store.Principals.Add(PrincipalKind.User, $"demo-user-{Environment.ProcessId}", null, DateTimeOffset.UtcNow);
        var tokenFile = Path.Combine(directory, "agent.token");
        File.Delete(tokenFile);
        await using (var writer = new StreamWriter(PrivateFile.CreateNew(tokenFile)))
        {
            await writer.WriteAsync(agentToken.ToString());
        }

        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var gateway = GatewayServer.RunAsync(gatewayDir, logging => LoggingSetup.Configure(logging, verbose: false), stop.Token, address => listening.TrySetResult(address));
        var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);

        var agentConfig = Path.Combine(directory, "agent.yaml");
        await File.WriteAllTextAsync(agentConfig, $"""
            gateway: {address}
            token_file: agent.token
            fingerprint: {fingerprint}
            hosts:
              demo:
                address: 127.0.0.1
                services:
                  web: {"{"} port: {web.Port}, http: true {"}"}
            {(sshd is null ? "" : $"      ssh: {sshd.Port}")}

            """, cancellationToken);
        var agent = AgentRunner.RunAsync(agentConfig, logs.CreateLogger("Jumpgate.Agent"), stop.Token);

        var settings = new ClientSettings { Gateway = address, Fingerprint = fingerprint.ToString(), Token = userToken.ToString() };
        var clientHome = Path.Combine(directory, "client");
        var previous = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        Environment.SetEnvironmentVariable("XDG_CONFIG_HOME", clientHome);
        settings.Save();
        Environment.SetEnvironmentVariable("XDG_CONFIG_HOME", previous);

        await WaitOnlineAsync(settings, cancellationToken);
        var forwarding = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        var forward = TunnelCommands.ForwardAsync(settings, "demo", "web", local, _ => { }, stop.Token, forwarding);
        var bound = await forwarding.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var page = await http.GetStringAsync($"http://{bound}/", cancellationToken);
        using var api = GatewayApi.FromSettings(settings);
        var browser = await api.OpenAsync("demo", "web", cancellationToken);
        var sshConfig = sshd is null ? null : await WriteSshConfigAsync(sshd, clientHome, cancellationToken);

        Console.Error.WriteLine($"""

            Jumpgate demo is running (files in {directory}).
              gateway   {address}  fingerprint {fingerprint}
              agent     serves host 'demo': web (http), {(sshd is null ? $"no ssh: {noSsh}" : $"ssh (a throw-away sshd on 127.0.0.1:{sshd.Port}, files in {sshd.Folder})")}
              forward   http://{bound}/ -> demo:web through the gateway and the agent
              check     GET http://{bound}/ answered: {page.Trim()}
              browser   {browser.Url} (behind the gateway's sign-in; self-signed certificate)
                        one-time sign-in link, 5 minutes: {browser.SignInUrl}

            Try, in another terminal:
              curl http://{bound}/
              XDG_CONFIG_HOME={clientHome} dotnet run --project src/Jumpgate.Cli -- ls
            {(sshConfig is null ? "" : $"  ssh -F {sshConfig} demo.jg      # through the gateway, with `jumpgate proxy` as ProxyCommand")}
            Ctrl-C stops it.
            """);
        await Task.WhenAll(forward, agent, gateway);
    }

    private static async Task WaitOnlineAsync(ClientSettings settings, CancellationToken cancellationToken)
    {
        using var api = GatewayApi.FromSettings(settings);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if ((await api.HostsAsync(cancellationToken)).Any(h => h.Name == "demo" && h.Online))
            {
                return;
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new CliException("the demo agent did not come online within 10 s; see the log above");
    }

    /// <summary>
    /// An ssh config of the demo's own, so the printed line works as it is: `jumpgate proxy` with
    /// the demo's login, the demo's key, and the throw-away sshd's host key pinned.
    /// </summary>
    private static async Task<string> WriteSshConfigAsync(DemoSshd sshd, string clientHome, CancellationToken cancellationToken)
    {
        var knownHosts = Path.Combine(sshd.Folder, "known_hosts");
        await File.WriteAllTextAsync(knownHosts, sshd.KnownHostsLine("demo.jg") + "\n", cancellationToken);
        var config = Path.Combine(sshd.Folder, "config");
        await File.WriteAllTextAsync(config, $"""
            Host demo.jg
                User {Environment.UserName}
                ProxyCommand env "XDG_CONFIG_HOME={clientHome}" {ClientCommands.SelfCommand()} proxy --fdpass %h %p
                ProxyUseFdpass yes
                IdentityFile "{sshd.ClientKey}"
                IdentitiesOnly yes
                UserKnownHostsFile "{knownHosts}"
                GlobalKnownHostsFile /dev/null
                StrictHostKeyChecking yes

            """, cancellationToken);
        return config;
    }

    /// <summary>A tiny web service on a loopback port: the thing inside the "private network".</summary>
    private sealed class DemoWebService : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly TaskGroup _running = new(e => Console.Error.WriteLine($"demo web service: {e.GetType().Name}: {e.Message}"));

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static DemoWebService Start()
        {
            var service = new DemoWebService();
            service._listener.Start();
            service._running.Start(service.AcceptAsync);
            return service;
        }

        private async Task AcceptAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(cancellationToken);
                    _running.Start(stopping => AnswerAsync(client, stopping));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        private static async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
        {
            using var _ = client;
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[8192];
                // Read the request head; a demo page needs nothing from it.
                await stream.ReadAsync(buffer, cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
                var body = $"Hello from behind Jumpgate: served by {Environment.MachineName} at {DateTime.UtcNow:O}\n";
                var response = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
                await stream.WriteAsync(Encoding.UTF8.GetBytes(response), cancellationToken);
            }
            catch (Exception e) when (e is IOException or TimeoutException or SocketException)
            {
                // A demo client that went away.
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _running.DisposeAsync();
        }
    }
}
