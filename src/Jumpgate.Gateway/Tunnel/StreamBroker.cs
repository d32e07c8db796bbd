using System.Buffers;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Config;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Hosting;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// A user's stream to a host's service: authorise it against the user's rules, take one of the
/// serving agent's idle connections, ask the agent to open the service, and splice the two
/// connections until either side ends or the access monitor revokes the stream. Every outcome is
/// an audit event.
/// </summary>
internal sealed class StreamBroker(
    GatewayStore store,
    AgentRegistry registry,
    AgentStreams streams,
    Authenticator authenticator,
    AccessMonitor monitor,
    AuditLog audit,
    DirectRendezvous rendezvous,
    StreamQuota quota,
    TrunkOptions trunkOptions,
    TimeProvider time,
    ILogger<StreamBroker> logger)
{
    public async Task RunAsync(TunnelConnection client, Hello hello, Principal? user)
    {
        if (user is null)
        {
            await client.RefuseAsync(await authenticator.RefusalAsync(client.Remote, client.Closed));
            return;
        }
        var host = hello.Host ?? "";
        var service = hello.Service ?? "";
        var stream = new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindStream, Outcome = "refused", User = user.Name, Source = client.Remote, Host = Clip(host), Service = Clip(service) };
        if (!Names.IsValid(host))
        {
            await RefuseAsync(client, stream, $"'{Clip(host)}' is not a valid host name");
            return;
        }
        // The rules are checked before the host is looked up, so a refused user learns nothing about which hosts exist.
        var policy = store.LoadPolicy(user.Name);
        if (!policy.AllowsHost(host))
        {
            await DenyAsync(client, stream, policy.Refusal(host, service == "22" ? "ssh" : Clip(service)));
            return;
        }
        var (target, error) = Resolve(host, service, policy);
        if (target is null)
        {
            // A service the user may not reach is denied whether or not it exists, so its absence tells nothing either.
            var asked = service == "22" ? "ssh" : Clip(service);
            await (policy.Allows(host, asked) ? RefuseAsync(client, stream, error!) : DenyAsync(client, stream, policy.Refusal(host, asked)));
            return;
        }
        var agentName = target.Value.Session.Agent;
        stream = stream with { Service = target.Value.Service, Agent = agentName };
        if (!policy.Allows(host, target.Value.Service))
        {
            await DenyAsync(client, stream, policy.Refusal(host, target.Value.Service));
            return;
        }
        if (hello.Probe)
        {
            await client.ReplyAsync(Reply.Success, client.Closed);
            return;
        }
        if (hello.Direct)
        {
            await RunDirectAsync(client, user, host, target.Value.Session, target.Value.Service, stream);
            return;
        }

        TrunkStream? agentLeg = null;
        try
        {
            var session = target.Value.Session;
            (agentLeg, error) = await streams.StartAsync(session, host, target.Value.Service, client.Closed);
            if (agentLeg is null)
            {
                await RefuseAsync(client, stream, error!);
                return;
            }
            using var grant = monitor.TrackStream(user.Name, user.TokenId, host, target.Value.Service, agentName);
            // A revoked stream ends now, even with a write stuck on a peer that stopped reading (writes are never cancelled midway).
            using var abort = grant.Revoked.Register(() =>
            {
                client.Abort();
                agentLeg.Abort();
            });
            DateTimeOffset? start = null;
            var started = 0L;
            // The user's first bytes follow the request to the agent at once (the stream is
            // authorised already); nothing comes back, not even our answer, before the agent's.
            var result = await Splice.RunAsync(client.Stream, agentLeg, async cancellationToken =>
            {
                if (await AgentStreams.ReadAnswerAsync(agentLeg, session, host, target.Value.Service, cancellationToken) is { } refused)
                {
                    throw new AgentRefusal(refused);
                }
                // Not cancellable: a half-written answer would corrupt a `connect` connection's TLS.
                await client.ReplyAsync(Reply.Success, CancellationToken.None);
                GatewayLog.StreamOpened(logger, user.Name, host, target.Value.Service, agentName, client.Remote);
                start = time.GetUtcNow();
                started = time.GetTimestamp();
                audit.Write(stream with { Time = start.Value, Outcome = "opened", Start = start });
            }, grant.Revoked);
            if (start is null)
            {
                // Never opened: the agent refused or went away before answering, the user left, or the stream was revoked meanwhile.
                if (result.Outcome == SpliceOutcome.SecondFailed)
                {
                    await RefuseAsync(client, stream, result.Error is AgentRefusal refusal ? refusal.Message : AgentStreams.NotAnswering(session));
                }
                return;
            }
            var outcome = result.Outcome switch
            {
                SpliceOutcome.Completed => "closed by both ends",
                SpliceOutcome.FirstFailed => "the user's side went away",
                SpliceOutcome.SecondFailed => "the agent's side went away",
                _ => grant.Reason is { } reason ? "revoked: " + reason : "cancelled",
            };
            GatewayLog.StreamClosed(logger, user.Name, host, target.Value.Service, agentName, time.GetElapsedTime(started).TotalSeconds, outcome, result.FirstToSecond, result.SecondToFirst);
            var end = time.GetUtcNow();
            audit.Write(stream with
            {
                Time = end, Outcome = grant.Reason is null ? "closed" : "revoked", Start = start, End = end,
                BytesUp = result.FirstToSecond, BytesDown = result.SecondToFirst, Reason = outcome,
            });
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
        {
            // The user went away while the stream was being set up; nothing is left to clean but the agent leg.
        }
        finally
        {
            // A stream that ended cleanly is already closed both ways; anything else is reset, so the agent hangs up on the service.
            if (agentLeg is not null)
            {
                await agentLeg.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A user's trunk (what `jumpgate forward` keeps): every stream on it opens with an
    /// <see cref="OpenRequest"/> and is then handled as a connection of its own would be. The
    /// token is checked again for each stream, since it may have been revoked meanwhile, and the
    /// trunk closes once it is. Streams are limited per trunk and per user (<see cref="StreamQuota"/>);
    /// a trunk with no streams that sends nothing for <see cref="TrunkOptions.IdleTimeout"/> is closed.
    /// </summary>
    public async Task RunTrunkAsync(TunnelConnection connection, Hello hello, Principal? user)
    {
        if (user is null)
        {
            await connection.RefuseAsync(await authenticator.RefusalAsync(connection.Remote, connection.Closed));
            return;
        }
        // The idle timeout goes with the answer, so `forward` can close an idle trunk itself just before the gateway would.
        await connection.ReplyAsync(Reply.Success with { IdleTimeoutMs = (long)trunkOptions.IdleTimeout.TotalMilliseconds }, connection.Closed);
        var streams = quota.ForTrunk(user.Name, connection.Remote);
        Trunk? trunk = null;
        trunk = new Trunk(connection.Stream, opener: false, accept: stream => RunTrunkStreamAsync(stream, trunk!, streams, connection, hello),
            acceptFailed: e => GatewayLog.UserTrunkStreamFailed(logger, user.Name, connection.Remote, e))
        {
            IdleTimeout = trunkOptions.IdleTimeout,
            Time = time,
        };
        using var stopping = connection.ClosingRequested.Register(trunk.Drain);
        using var grant = monitor.TrackTrunk(user.Name, user.TokenId);
        using var revoked = grant.Revoked.Register(trunk.Close);
        await trunk.RunAsync(connection.Closed);
        if (grant.Reason is { } reason)
        {
            GatewayLog.UserTrunkClosed(logger, user.Name, connection.Remote, "revoked: " + reason);
        }
        else if (trunk.ClosedIdle)
        {
            GatewayLog.UserTrunkClosed(logger, user.Name, connection.Remote, $"no streams and nothing sent for {Durations.Humanize(trunkOptions.IdleTimeout)}");
        }
    }

    private async Task RunTrunkStreamAsync(TrunkStream stream, Trunk trunk, StreamQuota.TrunkStreams streams, TunnelConnection connection, Hello hello)
    {
        if (quota.TryAdmit(streams, out var refusal) is not { } admission)
        {
            // Answered and reset in one write nobody waits on: a flood of new streams holds nothing here.
            trunk.Refuse(stream, Frame.Encode(Reply.Failure(refusal), ProtocolJson.Default.Reply));
            return;
        }
        using var admitted = admission;
        await using var _ = stream;
        var client = new TunnelConnection(stream, connection.Remote, trunk.Closed, connection.ClosingRequested, stream.Abort);
        try
        {
            OpenRequest request;
            using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(trunk.Closed))
            {
                waiting.CancelAfter(OpenRequestTimeout);
                request = await Frame.ReadAsync(stream, ProtocolJson.Default.OpenRequest, waiting.Token);
            }
            admission.Requested();
            if (connection.ClosingRequested.IsCancellationRequested)
            {
                await client.RefuseAsync("the gateway is stopping; try again in a moment");
                return;
            }
            var user = authenticator.Authenticate(hello.Token, Core.Security.PrincipalKind.User, connection.Remote);
            await RunAsync(client, hello with { Host = request.Host, Service = request.Service, Direct = request.Direct }, user);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            // The stream was reset or its request never came whole; nothing was asked of the gateway.
        }
    }

    /// <summary>
    /// An authorised direct stream (docs/protocol.md, "Direct streams"): the agent opens the service
    /// and dials its leg, the user gets its ticket and dials its own, and the gateway relays between
    /// the two plain TCP legs without decrypting (the ends run TLS across them). Audited and
    /// revocable like any stream.
    /// </summary>
    private async Task RunDirectAsync(TunnelConnection client, Principal user, string host, AgentSession session, string service, AuditEvent stream)
    {
        if (session.Certificate is not { } certificate)
        {
            await RefuseAsync(client, stream, $"agent {session.Agent} does not take direct streams (it is older than the gateway); update it, or connect without --direct");
            return;
        }
        var meeting = rendezvous.Open();
        TrunkStream? request = null;
        try
        {
            string? error;
            (request, error) = await streams.StartAsync(session, new OpenRequest { Host = host, Service = service, Leg = meeting.AgentTicket }, client.Closed);
            if (request is not null)
            {
                error = await AgentStreams.ReadAnswerAsync(request, session, host, service, client.Closed);
            }
            if (error is not null)
            {
                await RefuseAsync(client, stream, error);
                return;
            }
            // The agent's trunk stream has said all it will: the stream's bytes take the legs.
            await request!.DisposeAsync();
            request = null;
            await client.ReplyAsync(Reply.Success with { Direct = meeting.UserTicket(certificate) }, CancellationToken.None);
            ConnectionContext userLeg, agentLeg;
            using (var arrival = CancellationTokenSource.CreateLinkedTokenSource(session.Ended))
            {
                arrival.CancelAfter(DirectLegTimeout);
                try
                {
                    userLeg = await meeting.User.Task.WaitAsync(arrival.Token);
                    agentLeg = await meeting.Agent.Task.WaitAsync(arrival.Token);
                }
                catch (OperationCanceledException)
                {
                    GatewayLog.StreamRefused(logger, user.Name, host, service, "its direct legs did not arrive in time");
                    audit.Write(stream with { Outcome = "refused", Reason = $"the direct legs did not arrive within {DirectLegTimeout.TotalSeconds:0} s" });
                    return;
                }
            }
            using var grant = monitor.TrackStream(user.Name, user.TokenId, host, service, session.Agent);
            void Cut()
            {
                userLeg.Abort();
                agentLeg.Abort();
            }
            using var revoked = grant.Revoked.Register(Cut);
            var start = time.GetUtcNow();
            var started = time.GetTimestamp();
            GatewayLog.StreamOpened(logger, user.Name, host, service, session.Agent, userLeg.RemoteEndPoint?.ToString());
            audit.Write(stream with { Time = start, Outcome = "opened", Start = start, Reason = "direct" });
            var up = RelayAsync(userLeg.Transport.Input, agentLeg.Transport.Output);
            var down = RelayAsync(agentLeg.Transport.Input, userLeg.Transport.Output);
            if (!(await await Task.WhenAny(up, down)).Clean)
            {
                // A leg was reset: the other direction has nowhere to go.
                Cut();
            }
            var (bytesUp, bytesDown) = ((await up).Carried, (await down).Carried);
            var outcome = grant.Reason is { } reason ? "revoked: " + reason : "closed (direct)";
            GatewayLog.StreamClosed(logger, user.Name, host, service, session.Agent, time.GetElapsedTime(started).TotalSeconds, outcome, bytesUp, bytesDown);
            var end = time.GetUtcNow();
            audit.Write(stream with
            {
                Time = end, Outcome = grant.Reason is null ? "closed" : "revoked", Start = start, End = end,
                BytesUp = bytesUp, BytesDown = bytesDown, Reason = outcome,
            });
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException or ProtocolException)
        {
            // The user or the agent went away while the stream was being set up.
        }
        finally
        {
            rendezvous.Close(meeting);
            if (request is not null)
            {
                await request.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Copies one direction of a direct stream (ciphertext) until its source ends, then completes the
    /// destination, which Kestrel's socket transport turns into a close of that leg (connection
    /// middleware cannot half-close). The ends half-close inside their TLS (close_notify) and close
    /// their legs only when both directions are done, so nothing is cut short. Kestrel's pipes hold
    /// the bytes; one copy moves them from one to the other.
    /// </summary>
    private static async Task<(long Carried, bool Clean)> RelayAsync(System.IO.Pipelines.PipeReader source, System.IO.Pipelines.PipeWriter destination)
    {
        var carried = 0L;
        var clean = true;
        try
        {
            while (true)
            {
                var result = await source.ReadAsync();
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    destination.Write(segment.Span);
                }
                carried += buffer.Length;
                source.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled || (await destination.FlushAsync()).IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or ConnectionResetException or ConnectionAbortedException)
        {
            clean = false;
        }
        await destination.CompleteAsync();
        return (carried, clean);
    }

    /// <summary>How long the two ends of an authorised direct stream may take to dial their legs.</summary>
    private static readonly TimeSpan DirectLegTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a new trunk stream may take to say what it wants (it sends that with its first frame).</summary>
    private static readonly TimeSpan OpenRequestTimeout = TimeSpan.FromSeconds(10);

    private async Task DenyAsync(TunnelConnection client, AuditEvent stream, string reason)
    {
        GatewayLog.StreamDenied(logger, stream.User!, stream.Host!, stream.Service!, reason);
        audit.Write(stream with { Outcome = "denied", Reason = reason });
        await client.RefuseAsync(reason);
    }

    private async Task RefuseAsync(TunnelConnection client, AuditEvent stream, string reason)
    {
        GatewayLog.StreamRefused(logger, stream.User!, stream.Host!, stream.Service!, reason);
        audit.Write(stream with { Outcome = "refused", Reason = reason });
        await client.RefuseAsync(reason);
    }

    /// <summary>Finds an agent session that serves the host and the service, or says in words why there is none.</summary>
    private ((AgentSession Session, string Service)? Target, string? Error) Resolve(string host, string service, AccessPolicy policy)
    {
        if (!Names.IsValid(host))
        {
            return (null, $"'{Clip(host)}' is not a valid host name");
        }
        var sessions = registry.Serving(host);
        if (sessions.Count == 0)
        {
            var known = store.ListHosts(host);
            if (known.Count == 0)
            {
                return (null, $"unknown host {host}: no agent serves it (`jumpgate ls` lists the hosts you can reach)");
            }
            var last = known[0];
            var ago = Durations.Humanize(time.GetUtcNow() - last.LastSeen);
            return (null, $"host {host} is offline: agent {last.Agent} last seen {ago} ago");
        }
        foreach (var session in sessions)
        {
            var services = session.Hosts[host].Services;
            // `ssh` asks for a port (%p); port 22 means the ssh service, any other port the service declared on it.
            var match = services.FirstOrDefault(s => s.Name == service)
                ?? (service == "22" ? services.FirstOrDefault(s => s.Name == "ssh") : null)
                ?? services.FirstOrDefault(s => s.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) == service);
            if (match is not null)
            {
                return ((session, match.Name), null);
            }
        }
        // Only the services the user may reach are named: the others are none of their business.
        var offered = string.Join(", ", sessions[0].Hosts[host].Services.Where(s => policy.Allows(host, s.Name)).Select(s => s.Name));
        return (null, $"host {host} has no service '{Clip(service)}' (it has: {(offered.Length == 0 ? "none" : offered)})");
    }

    /// <summary>The agent's refusal to open a stream, in words for the user; it ends the splice that waited for the answer.</summary>
    private sealed class AgentRefusal(string reason) : Exception(reason);

    private static string Clip(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
