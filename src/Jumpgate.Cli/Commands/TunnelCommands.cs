using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;

namespace Jumpgate.Cli.Commands;

/// <summary>Streams through the gateway: `proxy` for OpenSSH's ProxyCommand, `forward` for what ssh -L did.</summary>
internal static class TunnelCommands
{
    public static Command Proxy()
    {
        var host = new Argument<string>("host") { Description = $"The host, with or without {ClientCommands.HostSuffix} (ssh's %h)" };
        var port = new Argument<string>("port") { Description = "The port or service name (ssh's %p; 22 means the ssh service)" };
        var direct = DirectOption();
        var command = new Command("proxy", Options.Describe(
            "Join stdin and stdout to a host's service through the gateway. OpenSSH runs it as ProxyCommand; `jumpgate ssh-config` writes that for you.",
            "ssh -o ProxyCommand='jumpgate proxy %h %p' node1.jg"))
        {
            host, port, direct,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var settings = LoadTunnelSettings();
            var (name, service) = (StripSuffix(result.GetValue(host)!), result.GetValue(port)!);
            await using var tunnel = result.GetValue(direct)
                ? await OpenDirectAsync(settings, name, service, cancellationToken)
                : await OpenAsync(settings, name, service, cancellationToken);
            // Splice wants one duplex stream per side; stdin and stdout are two halves of one.
            await using var terminal = new DuplexStream(Console.OpenStandardInput(), Console.OpenStandardOutput());
            await Splice.RunAsync(terminal, tunnel, cancellationToken);
            return 0;
        });
        return command;
    }

    public static Command Forward()
    {
        var target = new Argument<string>("target") { Description = "HOST:SERVICE, e.g. node1:jupyter" };
        var local = new Option<string>("--local", "-L") { Description = "Local address and port to listen on", DefaultValueFactory = _ => "127.0.0.1:0" };
        var direct = DirectOption();
        var command = new Command("forward", Options.Describe(
            "Listen on a local port and carry every connection to a host's service through the gateway (what ssh -L did), many at once, until Ctrl-C.",
            "jumpgate forward node1:jupyter --local 127.0.0.1:8888"))
        {
            target, local, direct,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var settings = LoadTunnelSettings();
            var (host, service) = SplitTarget(result.GetValue(target)!);
            if (!IPEndPoint.TryParse(result.GetValue(local)!, out var endpoint))
            {
                throw new CliException($"--local '{result.GetValue(local)}' is not an address and port such as 127.0.0.1:8888");
            }
            // Fail at once, with the gateway's own words, if the host is offline or unknown.
            await (await OpenAsync(settings, host, service, cancellationToken, probe: true)).DisposeAsync();
            await ForwardAsync(settings, host, service, endpoint, line => Console.Error.WriteLine(line), cancellationToken, direct: result.GetValue(direct));
            return 0;
        });
        return command;
    }

    /// <summary>--direct, as `proxy` and `forward` take it (docs/protocol.md, "Direct streams").</summary>
    private static Option<bool> DirectOption() => new("--direct")
    {
        Description = "Carry each connection on connections of its own, encrypted end to end between this command and the agent, "
            + "which the gateway relays without decrypting: faster for bulk transfers (checkpoints, datasets), one TLS handshake slower to open",
    };

    /// <summary>The login, for a process whose only TLS peer is the gateway and that only relays: a pinned gateway needs no system CA store, and its socket completions run inline.</summary>
    private static ClientSettings LoadTunnelSettings()
    {
        SocketCompletions.RunInline();
        var settings = ClientSettings.Load();
        if (settings.Fingerprint is not null)
        {
            TlsDefaults.SkipSystemTrustStore();
        }
        return settings;
    }

    /// <summary>Accepts local connections until cancelled, each carried by a stream of its own on one trunk to the gateway.</summary>
    public static async Task ForwardAsync(ClientSettings settings, string host, string service, IPEndPoint endpoint, Action<string> say, CancellationToken cancellationToken, TaskCompletionSource<IPEndPoint>? listening = null, bool direct = false)
    {
        using var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(endpoint);
        listener.Listen(512);
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        var preference = GatewayPreference.Of(settings.Endpoints());
        var gateways = preference.Gateways;
        say($"forwarding {bound} -> {host}:{service} through {ClientSettings.Describe(gateways)}{(direct ? ", encrypted end to end (--direct)" : "")}; Ctrl-C to stop");
        listening?.TrySetResult(bound);
        var running = new List<Task>();
        await using var trunk = new GatewayTrunk(gateways, settings.Token,
            e => say($"jumpgate: the connection to the gateway failed ({e.GetType().Name}: {e.Message})"), preference.Answered);
        try
        {
            while (true)
            {
                var client = await listener.AcceptAsync(cancellationToken);
                client.NoDelay = true;
                running.RemoveAll(t => t.IsCompleted);
                running.Add(direct ? CarryDirectAsync(trunk, host, service, client, say, cancellationToken) : CarryAsync(trunk, host, service, client, say, cancellationToken));
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: stop accepting; connections already carried end with the token.
        }
        await Task.WhenAll(running);
    }

    private static async Task CarryAsync(GatewayTrunk trunk, string host, string service, Socket client, Action<string> say, CancellationToken cancellationToken)
    {
        await using var local = new SocketStream(client);
        try
        {
            await using var tunnel = await trunk.StartAsync(host, service, cancellationToken);
            var result = await Splice.RunAsync(local, tunnel, answer => trunk.ReadAnswerAsync(tunnel, answer), cancellationToken);
            if (result.Error is GatewayException refused)
            {
                say($"jumpgate: {refused.Message}");
            }
        }
        catch (GatewayException e)
        {
            say($"jumpgate: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// One local connection on a direct stream: the gateway authorises it on the trunk and answers
    /// with a ticket; this end dials its own leg and runs TLS with the agent across the gateway.
    /// </summary>
    private static async Task CarryDirectAsync(GatewayTrunk trunk, string host, string service, Socket client, Action<string> say, CancellationToken cancellationToken)
    {
        await using var local = new SocketStream(client);
        try
        {
            Reply answer;
            await using (var request = await trunk.StartAsync(host, service, cancellationToken, direct: true))
            {
                answer = await trunk.ReadAnswerAsync(request, cancellationToken);
            }
            await using var tunnel = await JoinDirectAsync(trunk.Gateway, answer, cancellationToken);
            await Splice.RunAsync(local, tunnel, cancellationToken);
        }
        catch (Exception e) when (e is GatewayException or ProtocolException)
        {
            say($"jumpgate: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Opens one stream to a host's service; throws <see cref="GatewayException"/> with the gateway's reason if it cannot.</summary>
    public static async Task<ConnectionStream> OpenAsync(ClientSettings settings, string host, string service, CancellationToken cancellationToken, bool probe = false)
    {
        var hello = new Hello { Type = HelloType.Connect, Token = settings.Token, Host = host, Service = service, Probe = probe };
        var preference = GatewayPreference.Of(settings.Endpoints());
        var (stream, _, gateway) = await GatewayDialer.HandshakeAsync(preference.Gateways, hello, cancellationToken);
        preference.Answered(gateway);
        return stream;
    }

    /// <summary>Opens one direct stream: authorised on a `connect` connection, then carried on a leg of its own, TLS with the agent end to end.</summary>
    private static async Task<ConnectionStream> OpenDirectAsync(ClientSettings settings, string host, string service, CancellationToken cancellationToken)
    {
        var hello = new Hello { Type = HelloType.Connect, Token = settings.Token, Host = host, Service = service, Direct = true };
        var preference = GatewayPreference.Of(settings.Endpoints());
        var (request, reply, gateway) = await GatewayDialer.HandshakeAsync(preference.Gateways, hello, cancellationToken);
        preference.Answered(gateway);
        await request.DisposeAsync();
        return await JoinDirectAsync(gateway, reply, cancellationToken);
    }

    /// <summary>This end of a direct stream the gateway said yes to: its leg, and TLS with the agent across it.</summary>
    private static Task<TlsStream> JoinDirectAsync(GatewayEndpoint gateway, Reply answer, CancellationToken cancellationToken) =>
        DirectLeg.ConnectAsUserAsync(gateway,
            answer.Direct ?? throw new GatewayException("the gateway answered the direct stream without a ticket (is it older than this client?)"),
            cancellationToken);

    internal static string StripSuffix(string host) =>
        host.EndsWith(ClientCommands.HostSuffix, StringComparison.OrdinalIgnoreCase) ? host[..^ClientCommands.HostSuffix.Length] : host;

    private static (string Host, string Service) SplitTarget(string target)
    {
        var colon = target.LastIndexOf(':');
        return colon > 0 && colon < target.Length - 1
            ? (StripSuffix(target[..colon]), target[(colon + 1)..])
            : throw new CliException($"'{target}' is not HOST:SERVICE, e.g. node1:jupyter or node1:22");
    }
}
