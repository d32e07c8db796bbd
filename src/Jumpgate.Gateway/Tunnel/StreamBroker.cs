using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
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
        using var record = new StreamRecord(user, client.Remote, hello.Host ?? "", hello.Service ?? "", audit, logger, time);
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
        var grant = record.Authorized(authorization, monitor);
        var request = new OpenRequest { Host = hello.Host!, Service = authorization.Service };
        if (hello.Direct)
        {
            await direct.RunAsync(client, record, authorization.Session!, request);
            return;
        }
        await RelayAsync(client, record, grant, authorization.Session!, request);
    }

    /// <summary>
    /// Opens the agent's leg and splices the user's connection to it. The user's first bytes follow
    /// the request to the agent at once (the stream is authorised already); nothing comes back,
    /// not even our answer, before the agent's.
    /// </summary>
    private async Task RelayAsync(TunnelConnection client, StreamRecord record, LiveGrant grant, AgentSession session, OpenRequest request)
    {
        TrunkStream? agentLeg = null;
        try
        {
            (agentLeg, var error) = await streams.StartAsync(session, request, client.Closed);
            if (agentLeg is null)
            {
                await client.RefuseAsync(record.Refuse(error!));
                return;
            }
            // A revoked stream ends now, even with a write stuck on a peer that stopped reading (writes are never cancelled midway).
            using var abort = grant.Revoked.Register(() =>
            {
                client.Abort();
                agentLeg.Abort();
            });
            var result = await Splice.RunAsync(client.Stream, agentLeg, async cancellationToken =>
            {
                if (await AgentStreams.ReadAnswerAsync(agentLeg, session.Agent, request, cancellationToken) is { } refused)
                {
                    throw new AgentRefusal(refused);
                }
                // Not cancellable: a half-written answer would corrupt a `connect` connection's TLS.
                await client.ReplyAsync(Reply.Success, CancellationToken.None);
                record.Opened(client.Remote);
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
