using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Metrics;
using Jumpgate.Gateway.Routing;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// A user's stream to a host's service, composed of the parts every stream path shares: the
/// <see cref="StreamAuthorizer"/> decides, the <see cref="StreamRecord"/> logs, audits and holds
/// the live grant, <see cref="AgentStreams"/> opens the agent's leg, and <see cref="Splice"/>
/// relays until either side ends or the grant is revoked.
/// </summary>
internal sealed class StreamBroker(
    StreamAuthorizer authorizer,
    AgentStreams streams,
    DirectStreams direct,
    Authenticator authenticator,
    AccessMonitor monitor,
    AuditLog audit,
    LiveStreams live,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<StreamBroker> logger)
{
    /// <param name="session">A `forward`'s direct stream may be a direct session (docs/protocol.md, "Direct sessions").</param>
    public async Task RunAsync(TunnelConnection client, Hello hello, Principal? user, bool session = false)
    {
        if (user is null)
        {
            await client.RefuseAsync(await authenticator.RefusalAsync(client.Remote, client.Closed));
            return;
        }
        using var record = new StreamRecord(user, client.Remote, hello.Host ?? "", hello.Service ?? "", audit, metrics, logger, time);
        using var listed = live.Add(record);
        var authorization = authorizer.Authorize(user.Name, hello.Host ?? "", hello.Service ?? "");
        if (!authorization.Allowed)
        {
            await client.RefuseAsync(record.Refuse(authorization));
            return;
        }
        if (hello.Probe)
        {
            await client.ReplyAsync(Reply.Success, client.Closed);
            return;
        }
        var request = new OpenRequest { Host = hello.Host!, Service = authorization.Service };
        if (hello.Direct || authorization.Replicas.Count == 1)
        {
            var replica = authorization.Replica!;
            using var carried = replica.Carry();
            var grant = record.Authorized(replica, monitor);
            string? fallback = null;
            if (hello.Direct && (fallback = await direct.RunAsync(client, record, replica.Session, request, hello.Plain, hello.Fallback, session)) is null)
            {
                return;
            }
            await RelayAsync(client, record, grant, replica, request, agentLeg: null, fallback);
            return;
        }
        await RelayToReplicasAsync(client, record, authorization.Replicas, request);
    }

    /// <summary>
    /// A connection to an exposed port: the same stream as a user's, under the exposure's own name
    /// (<c>expose:NAME</c>), which has no token and is allowed only by the rules.
    /// </summary>
    public Task RunExposedAsync(TunnelConnection client, Store.Exposure exposure) => RunAsync(
        client,
        new Hello { Type = HelloType.Connect, Token = "", Host = exposure.Host, Service = exposure.Service },
        Exposed(exposure));

    /// <summary>Logs and audits a connection to an exposed port that its allow list refused; nothing was sent anywhere.</summary>
    public void RefuseExposed(Store.Exposure exposure, string? source, string reason)
    {
        using var record = new StreamRecord(Exposed(exposure), source, exposure.Host, exposure.Service, audit, metrics, logger, time);
        record.Refuse(reason);
    }

    private static Principal Exposed(Store.Exposure exposure) => new(PrincipalKind.User, exposure.User, null, TokenId: "");

    /// <summary>A stream goes to its first replica and, if that one cannot open it, to one more (docs/decisions.md, "A stream with a spare replica waits for its answer").</summary>
    private const int ReplicasTried = 2;

    /// <summary>
    /// A stream to a service with more than one replica: the first replica's answer is awaited
    /// before the user's bytes go, so that a replica that cannot open the service (its target
    /// refused, its agent not answering) is replaced by the next with nothing lost, once.
    /// </summary>
    private async Task RelayToReplicasAsync(TunnelConnection client, StreamRecord record, IReadOnlyList<Replica> replicas, OpenRequest request)
    {
        string? error = null;
        var tries = Math.Min(replicas.Count, ReplicasTried);
        for (var i = 0; i < tries; i++)
        {
            var replica = replicas[i];
            var carried = replica.Carry();
            TrunkStream? agentLeg;
            try
            {
                (agentLeg, error) = await streams.OpenAsync(replica.Session, request.Host, request.Service, client.Closed);
            }
            catch (OperationCanceledException)
            {
                // The user went away while the replica was asked.
                carried.Dispose();
                return;
            }
            if (agentLeg is null)
            {
                carried.Dispose();
                if (i + 1 < tries)
                {
                    GatewayLog.StreamRetried(logger, record.User.Name, request.Host, request.Service, replica.Agent, error!, replicas[i + 1].Agent);
                }
                continue;
            }
            using (carried)
            {
                var grant = record.Authorized(replica, monitor);
                await RelayAsync(client, record, grant, replica, request, agentLeg);
            }
            return;
        }
        await client.RefuseAsync(record.Refuse(error!));
    }

    /// <summary>
    /// Splices the user's connection to the agent's leg: one opened here, whose request goes out at
    /// once and the user's first bytes right behind it (the stream is authorised already), or one
    /// already answered (<paramref name="agentLeg"/>). Nothing comes back, not even our answer,
    /// before the agent's. A stream asked for as direct that could not be comes here with the
    /// reason (<paramref name="fallback"/>), which the answer and the audit carry.
    /// </summary>
    private async Task RelayAsync(TunnelConnection client, StreamRecord record, LiveGrant grant, Replica replica, OpenRequest request, TrunkStream? agentLeg, string? fallback = null)
    {
        var answered = agentLeg is not null;
        var session = replica.Session;
        try
        {
            if (agentLeg is null)
            {
                (agentLeg, var error) = await streams.StartAsync(session, request, client.Closed);
                if (agentLeg is null)
                {
                    await client.RefuseAsync(record.Refuse(error!));
                    return;
                }
            }
            // A revoked stream ends now, even with a write stuck on a peer that stopped reading (writes are never cancelled midway).
            using var abort = grant.Revoked.Register(() =>
            {
                client.Abort();
                agentLeg.Abort();
            });
            var result = await Splice.RunAsync(client.Stream, agentLeg, async cancellationToken =>
            {
                if (!answered && await AgentStreams.ReadAnswerAsync(agentLeg, session.Agent, request, cancellationToken) is { } refused)
                {
                    throw new AgentRefusal(refused);
                }
                // Not cancellable: a half-written answer would corrupt a `connect` connection's TLS.
                await client.ReplyAsync(fallback is null ? Reply.Success : Reply.Success with { Fallback = fallback }, CancellationToken.None);
                record.Opened(client.Remote, fallback: fallback);
            }, grant.Revoked, record.Meters);
            if (record.Start is not null)
            {
                record.Closed(result.Outcome);
            }
            else if (result.Outcome == SpliceOutcome.ServiceSideFailed)
            {
                // Never opened: the agent refused or went away before answering.
                await client.RefuseAsync(record.Refuse(result.Error is AgentRefusal refusal ? refusal.Message : AgentStreams.NotAnswering(session.Agent)));
            }
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

    /// <summary>The agent's refusal to open a stream, in words for the user; it ends the splice that waited for the answer.</summary>
    private sealed class AgentRefusal(string reason) : Exception(reason);
}
