using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Configuration;
using Microsoft.AspNetCore.Connections;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// An authorised direct stream (docs/protocol.md, "Direct streams"): the agent opens the service
/// and dials its leg, the user gets its ticket and dials its own, and the gateway splices the two
/// plain TCP legs without decrypting (the ends run TLS across them). Recorded and revocable like
/// any stream.
/// </summary>
internal sealed class DirectStreams(AgentStreams streams, DirectRendezvous rendezvous, GatewayOptions options)
{
    /// <summary>How long the two ends of an authorised direct stream may take to dial their legs.</summary>
    private static readonly TimeSpan LegTimeout = TimeSpan.FromSeconds(10);

    public async Task RunAsync(TunnelConnection client, StreamRecord record, AgentSession session, OpenRequest request)
    {
        if (session.Certificate is not { } certificate)
        {
            await client.RefuseAsync(record.Refuse($"agent {session.Agent} does not take direct streams (it is older than the gateway); update it, or connect without --direct"));
            return;
        }
        var meeting = rendezvous.Open();
        try
        {
            if (await AskAgentAsync(session, request with { Leg = meeting.AgentTicket }, client.Closed) is { } error)
            {
                await client.RefuseAsync(record.Refuse(error));
                return;
            }
            await client.ReplyAsync(Reply.Success with { Direct = meeting.UserTicket(certificate) }, CancellationToken.None);
            ConnectionContext userLeg, agentLeg;
            using (var arrival = CancellationTokenSource.CreateLinkedTokenSource(session.Ended))
            {
                arrival.CancelAfter(LegTimeout);
                try
                {
                    userLeg = await meeting.User.Task.WaitAsync(arrival.Token);
                    agentLeg = await meeting.Agent.Task.WaitAsync(arrival.Token);
                }
                catch (OperationCanceledException)
                {
                    record.Refuse($"the direct legs did not arrive within {LegTimeout.TotalSeconds:0} s");
                    return;
                }
            }
            // In the kernel the legs leave Kestrel and half-close as TCP; copied, they stay Kestrel's and close whole (the ends half-close inside their TLS either way).
            var inKernel = options.DirectRelay is SpliceMode.Kernel;
            await using ConnectionStream user = inKernel ? TakenLeg.TakeOver(userLeg) : new LegStream(userLeg);
            await using ConnectionStream agent = inKernel ? TakenLeg.TakeOver(agentLeg) : new LegStream(agentLeg);
            void Cut()
            {
                (user as TakenLeg)?.Abort();
                (agent as TakenLeg)?.Abort();
                userLeg.Abort();
                agentLeg.Abort();
            }
            using var revoked = record.Grant!.Revoked.Register(Cut);
            record.Opened(userLeg.RemoteEndPoint?.ToString(), how: "direct");
            var result = await Splice.RunAsync(user, agent, record.Grant.Revoked, record.Meters, options.DirectRelay);
            if (result.Outcome is not SpliceOutcome.Completed)
            {
                // A leg was reset: the other has nowhere to go.
                Cut();
            }
            record.Closed(result.Outcome);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException or ProtocolException)
        {
            // The user or the agent went away while the stream was being set up.
        }
        finally
        {
            rendezvous.Close(meeting);
        }
    }

    /// <summary>Asks the agent to open the service and dial its leg; null when it did, else why not. The trunk stream has said all it will either way.</summary>
    private async Task<string?> AskAgentAsync(AgentSession session, OpenRequest request, CancellationToken cancellationToken)
    {
        var (stream, error) = await streams.StartAsync(session, request, cancellationToken);
        if (stream is null)
        {
            return error;
        }
        await using (stream)
        {
            return await AgentStreams.ReadAnswerAsync(stream, session.Agent, request, cancellationToken);
        }
    }
}
