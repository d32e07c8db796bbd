using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;

namespace Jumpgate.Cli.Commands;

/// <summary>Streams through the gateway: `proxy` for OpenSSH's ProxyCommand, `forward` for what ssh -L did.</summary>
internal static class TunnelCommands
{
    /// <summary>How long `proxy` goes on closing its stream after ssh hung up on it: the service's end of input is one round trip away.</summary>
    private static readonly TimeSpan HangupGrace = TimeSpan.FromSeconds(2);

    public static Command Proxy()
    {
        var host = new Argument<string>("host") { Description = $"The host, with or without {ClientCommands.HostSuffix} (ssh's %h)" };
        var port = new Argument<string>("port") { Description = "The port or service name (ssh's %p; 22 means the ssh service)" };
        var (direct, trunk, tlsLegs, verbose) = PathOptions();
        var fdpass = new Option<bool>("--fdpass")
        {
            Description = "Hand ssh the connection itself over stdout and exit (OpenSSH's ProxyUseFdpass yes, which `jumpgate ssh-config` writes): "
                + "on plain legs no process of Jumpgate's copies the stream on this machine",
        };
        var command = new Command("proxy", Options.Describe(
            "Join stdin and stdout to a host's service through the gateway. OpenSSH runs it as ProxyCommand; `jumpgate ssh-config` writes that for you.",
            "ssh -o ProxyCommand='jumpgate proxy %h %p' node1.jg",
            "ssh -o ProxyUseFdpass=yes -o ProxyCommand='jumpgate proxy --fdpass %h %p' node1.jg"))
        {
            host, port, direct, trunk, tlsLegs, verbose, fdpass,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var path = StreamPathChoice.Of(result.GetValue(trunk), result.GetValue(direct), result.GetValue(tlsLegs));
            var (name, service) = (StripSuffix(result.GetValue(host)!), result.GetValue(port)!);
            var say = Say(result.GetValue(verbose));
            if (result.GetValue(fdpass))
            {
                return await HandSshAsync(name, service, path, result.GetValue(verbose), say, cancellationToken);
            }
            var settings = await LoadTunnelSettingsAsync(cancellationToken);
            await using var tunnel = (await OpenStreamAsync(settings, name, service, path, say, cancellationToken)).Stream;
            // Splice wants one duplex stream per side; stdin and stdout are two halves of one.
            await using var terminal = new DuplexStream(Console.OpenStandardInput(), Console.OpenStandardOutput());
            // ssh closes our stdin and sends SIGHUP in the same breath as it exits. Dying on the signal would cut the stream before
            // that end of input reached the service (the audit would say the user's side went away); finish the close instead, bounded.
            using var finished = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Kept until the process exits, never disposed: when the end of input closes the stream first, the hangup may
            // still be on its way, and with no handler left .NET would die of it (exit 129) after the stream closed well.
            Hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
            {
                signal.Cancel = true;
                try
                {
                    finished.CancelAfter(HangupGrace);
                }
                catch (ObjectDisposedException)
                {
                    // The relay has already finished; nothing is left to cut short.
                }
            });
            await Splice.RunAsync(terminal, tunnel, finished.Token);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// `proxy --fdpass`: a plain leg is handed to ssh and this process exits; on any other path
    /// (asked for, or fallen back to) a relay process of its own carries the stream.
    /// </summary>
    private static async Task<int> HandSshAsync(string host, string service, StreamPathChoice path, bool verbose, Action<string> say, CancellationToken cancellationToken)
    {
        FdpassHandoff.RequireUnixStdout();
        string[] relayVerbosity = verbose ? ["-v"] : [];
        if (!path.Direct || !path.Plain)
        {
            FdpassHandoff.HandToRelay(host, service, [.. path.Arguments(), .. relayVerbosity]);
            return 0;
        }
        var (tunnel, taken) = await OpenStreamAsync(await LoadTunnelSettingsAsync(cancellationToken), host, service, path, say, cancellationToken);
        if (taken.Plain && tunnel is SocketStream leg)
        {
            FdpassHandoff.HandOver(leg);
            return 0;
        }
        // The stream cannot leave with this process (ssh waits for it to exit), so the relay asks again, for the path the gateway answered with.
        await tunnel.DisposeAsync();
        say($"{host}:{service}: not on a plain leg, so a relay process of its own carries it, asking again for that path");
        FdpassHandoff.HandToRelay(host, service, [.. taken.Arguments(), .. relayVerbosity]);
        return 0;
    }

    /// <summary>`proxy`'s SIGHUP handler, held for the rest of the process's life (a registration that is collected stops handling).</summary>
    private static PosixSignalRegistration? Hangup { get; set; }

    public static Command Forward()
    {
        var target = new Argument<string>("target") { Description = "HOST:SERVICE, e.g. node1:jupyter" };
        var local = new Option<string>("--local", "-L") { Description = "Local address and port to listen on", DefaultValueFactory = _ => "127.0.0.1:0" };
        var (direct, trunk, tlsLegs, verbose) = PathOptions();
        var command = new Command("forward", Options.Describe(
            "Listen on a local port and carry every connection to a host's service through the gateway (what ssh -L did), many at once, until Ctrl-C.",
            "jumpgate forward node1:jupyter --local 127.0.0.1:8888"))
        {
            target, local, direct, trunk, tlsLegs, verbose,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var path = StreamPathChoice.Of(result.GetValue(trunk), result.GetValue(direct), result.GetValue(tlsLegs));
            var settings = await LoadTunnelSettingsAsync(cancellationToken);
            var (host, service) = SplitTarget(result.GetValue(target)!);
            if (!IPEndPoint.TryParse(result.GetValue(local)!, out var endpoint))
            {
                throw new CliException($"--local '{result.GetValue(local)}' is not an address and port such as 127.0.0.1:8888");
            }
            // Fail at once, with the gateway's own words, if the host is offline or unknown.
            await (await OpenAsync(settings, host, service, cancellationToken, probe: true)).DisposeAsync();
            await ForwardAsync(settings, host, service, endpoint, line => Console.Error.WriteLine(line), cancellationToken, path: path, verbose: result.GetValue(verbose));
            return 0;
        });
        return command;
    }

    /// <summary>How `proxy` and `forward` choose a stream's path (docs/protocol.md, "Direct by default"), and -v to hear which it took.</summary>
    private static (Option<bool> Direct, Option<bool> Trunk, Option<bool> TlsLegs, Option<bool> Verbose) PathOptions() => (
        new("--direct")
        {
            Description = "Insist on a direct stream (the default asks for one and goes through the gateway's TLS when none can be made): "
                + "connections of its own that the gateway relays without decrypting, encrypted end to end with the agent, or by SSH itself for an ssh service",
        },
        new("--trunk")
        {
            Description = "Carry the stream inside the gateway's TLS on both sides instead of on direct legs: one TLS handshake less to open, slower for bulk transfers",
        },
        new("--tls-legs")
        {
            Description = "For an ssh service, run TLS end to end with the agent on the direct legs rather than plain legs that carry SSH's own encryption",
        },
        new("--verbose", "-v") { Description = "Say on stderr which path each stream took (direct, plain legs, or through the gateway) and why" });

    private static Action<string> Say(bool verbose) => verbose ? line => Console.Error.WriteLine("jumpgate: " + line) : _ => { };

    /// <summary>The login, for a process whose only TLS peer is the gateway and that only relays: a pinned gateway needs no system CA store, and its socket completions run inline, on one epoll thread per two cores as the agent's.</summary>
    private static async Task<ClientSettings> LoadTunnelSettingsAsync(CancellationToken cancellationToken)
    {
        SocketCompletions.RunInlineOnFewerThreads();
        var settings = await SsoSignIn.CurrentAsync(cancellationToken);
        if (settings.Fingerprint is not null)
        {
            TlsDefaults.SkipSystemTrustStore();
        }
        return settings;
    }

    /// <summary>Accepts local connections until cancelled, each carried by a stream of its own on one trunk to the gateway.</summary>
    public static async Task ForwardAsync(ClientSettings settings, string host, string service, IPEndPoint endpoint, Action<string> say, CancellationToken cancellationToken, TaskCompletionSource<IPEndPoint>? listening = null, StreamPathChoice? path = null, bool verbose = false)
    {
        using var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(endpoint);
        listener.Listen(512);
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        var preference = GatewayPreference.Of(settings.Endpoints());
        var gateways = preference.Gateways;
        path ??= StreamPathChoice.Trunk;
        var how = path switch
        {
            { Direct: false } => "",
            { Fallback: false } => ", encrypted end to end (--direct)",
            _ => ", direct where a leg can be made (-v says per connection)",
        };
        say($"forwarding {bound} -> {host}:{service} through {ClientSettings.Describe(gateways)}{how}; Ctrl-C to stop");
        Action<string> note = verbose ? line => say("jumpgate: " + line) : _ => { };
        listening?.TrySetResult(bound);
        var running = new List<Task>();
        await using var trunk = new GatewayTrunk(gateways, settings.Token,
            e => say($"jumpgate: the connection to the gateway failed ({e.GetType().Name}: {e.Message})"), preference.Answered)
        {
            CurrentToken = settings.SsoRefreshToken is null ? null : async token => (await SsoSignIn.CurrentAsync(token)).Token,
        };
        await using var session = new DirectSession(e => say($"jumpgate: the direct session failed ({e.GetType().Name}: {e.Message})"));
        try
        {
            while (true)
            {
                var client = await listener.AcceptAsync(cancellationToken);
                client.NoDelay = true;
                running.RemoveAll(t => t.IsCompleted);
                running.Add(CarryAsync(trunk, session, host, service, client, path, say, note, cancellationToken));
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: stop accepting; connections already carried end with the token.
        }
        await Task.WhenAll(running);
    }

    /// <summary>One local connection, on the path asked for; <paramref name="note"/> hears which it took (-v).</summary>
    private static async Task CarryAsync(GatewayTrunk trunk, DirectSession session, string host, string service, Socket client, StreamPathChoice path, Action<string> say, Action<string> note, CancellationToken cancellationToken)
    {
        await using var local = new SocketStream(client);
        try
        {
            if (!path.Direct || !await CarryDirectAsync(trunk, session, host, service, local, path, say, note, cancellationToken))
            {
                await using var tunnel = await trunk.StartAsync(host, service, cancellationToken);
                var result = await Splice.RunAsync(local, tunnel, answer => trunk.ReadAnswerAsync(tunnel, answer), cancellationToken);
                if (result.Error is GatewayException refused)
                {
                    say($"jumpgate: {refused.Message}");
                }
            }
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

    /// <summary>
    /// One local connection asked for as direct: a new stream in the open direct session, or, with
    /// none open, a request on the trunk that asks for one. The gateway authorises it and answers
    /// with a session's ticket (this end joins it, and the connection is its first stream), a
    /// direct stream's (this end dials its own leg), or, when no direct leg can be made, carries it
    /// on the same trunk stream. False when this end could not make its leg and may ask again through the gateway.
    /// </summary>
    private static async Task<bool> CarryDirectAsync(GatewayTrunk trunk, DirectSession session, string host, string service, SocketStream local, StreamPathChoice path, Action<string> say, Action<string> note, CancellationToken cancellationToken)
    {
        if (await session.TryStartAsync(host, service, cancellationToken) is { } inner)
        {
            await CarryInSessionAsync(inner, local, host, service, say, note, cancellationToken);
            return true;
        }
        var full = session.IsFull;
        if (full)
        {
            note($"{host}:{service}: the direct session is full ({session.MaxStreams} streams, the gateway's limit for one); this connection goes on a path of its own");
        }
        using var turn = !full && session.WorthAsking ? await session.AskAsync(cancellationToken) : null;
        // Another connection may have made one while this one waited for its turn.
        if (turn is not null && await session.TryStartAsync(host, service, cancellationToken) is { } made)
        {
            turn.Dispose();
            await CarryInSessionAsync(made, local, host, service, say, note, cancellationToken);
            return true;
        }
        var request = await trunk.StartAsync(host, service, cancellationToken, path, session: turn is not null);
        Reply answer;
        try
        {
            answer = await trunk.ReadAnswerAsync(request, cancellationToken);
        }
        catch
        {
            await request.DisposeAsync();
            throw;
        }
        if (turn is not null && answer.Direct is not { Session: true })
        {
            session.Declined();
            turn.Dispose();
        }
        if (answer.Direct is not { Session: true })
        {
            note(StreamPathChoice.Describe(host, service, answer));
        }
        if (answer.Direct is not { } ticket)
        {
            await using (request)
            {
                await Splice.RunAsync(local, request, cancellationToken);
            }
            return true;
        }
        await request.DisposeAsync();
        if (ticket.Session)
        {
            TrunkStream first;
            try
            {
                first = await session.JoinAsync(trunk.Gateway, ticket, trunk.IdleTimeout, host, service, cancellationToken);
            }
            catch (GatewayException e) when (path.Fallback)
            {
                note($"{host}:{service}: this end could not join the direct session ({e.Message}); asking again through the gateway");
                return false;
            }
            finally
            {
                turn?.Dispose();
            }
            note($"{host}:{service}: direct, in a new direct session (TLS end to end with the agent across the gateway)");
            await CarryInSessionAsync(first, local, host, service, say, note, cancellationToken, joined: true);
            return true;
        }
        ConnectionStream tunnel;
        try
        {
            tunnel = await StreamPathChoice.JoinAsync(trunk.Gateway, ticket, cancellationToken);
        }
        catch (GatewayException e) when (path.Fallback)
        {
            note($"{host}:{service}: this end could not make its direct leg ({e.Message}); asking again through the gateway");
            return false;
        }
        await using (tunnel)
        {
            await Splice.RunAsync(local, tunnel, cancellationToken);
        }
        return true;
    }

    /// <summary>One local connection on a stream in the direct session: its first bytes follow the request at once, nothing comes back before the agent's answer.</summary>
    private static async Task CarryInSessionAsync(TrunkStream inner, SocketStream local, string host, string service, Action<string> say, Action<string> note, CancellationToken cancellationToken, bool joined = false)
    {
        if (!joined)
        {
            note($"{host}:{service}: direct, in the direct session (TLS end to end with the agent across the gateway)");
        }
        await using (inner)
        {
            var result = await Splice.RunAsync(local, inner, async answering =>
            {
                var reply = await StreamOpener.ReadAnswerAsync(inner, answering);
                if (!reply.Ok)
                {
                    throw new GatewayException(reply.Error ?? "the agent refused the stream", refused: true);
                }
            }, cancellationToken);
            if (result.Error is GatewayException refused)
            {
                say($"jumpgate: {refused.Message}");
            }
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

    /// <summary>
    /// Opens one stream on the path asked for: direct (authorised on a `connect` connection, then
    /// carried on a leg of its own), or through the gateway on that same connection when the
    /// gateway could make no direct leg, or on a second one when this end could not.
    /// </summary>
    private static async Task<(ConnectionStream Stream, StreamPathChoice Taken)> OpenStreamAsync(ClientSettings settings, string host, string service, StreamPathChoice path, Action<string> note, CancellationToken cancellationToken)
    {
        if (!path.Direct)
        {
            note($"{host}:{service}: through the gateway's TLS (--trunk)");
            return (await OpenAsync(settings, host, service, cancellationToken), StreamPathChoice.Trunk);
        }
        var hello = new Hello { Type = HelloType.Connect, Token = settings.Token, Host = host, Service = service, Direct = true, Plain = path.Plain, Fallback = path.Fallback };
        var preference = GatewayPreference.Of(settings.Endpoints());
        var (request, reply, gateway) = await GatewayDialer.HandshakeAsync(preference.Gateways, hello, cancellationToken);
        preference.Answered(gateway);
        note(StreamPathChoice.Describe(host, service, reply));
        if (reply.Direct is not { } ticket)
        {
            return (request, StreamPathChoice.Trunk);
        }
        await request.DisposeAsync();
        try
        {
            return (await StreamPathChoice.JoinAsync(gateway, ticket, cancellationToken), path with { Plain = ticket.Plain });
        }
        catch (GatewayException e) when (path.Fallback)
        {
            note($"{host}:{service}: this end could not make its direct leg ({e.Message}); asking again through the gateway");
            return (await OpenAsync(settings, host, service, cancellationToken), StreamPathChoice.Trunk);
        }
    }

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
