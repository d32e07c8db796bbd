using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// An authorised direct stream (docs/protocol.md, "Direct streams"): the agent opens the service
/// and dials its leg, the user gets its ticket and dials its own, and the gateway splices the two
/// plain TCP legs without decrypting: the ends run TLS across them, or, for an SSH service on
/// plain legs, SSH's own encryption, which the gateway checks for before a byte crosses.
/// Recorded and revocable like any stream. A direct session is such a stream whose TLS carries a
/// trunk of streams to the same service; the agent reports them to <see cref="DirectSessions"/>.
/// </summary>
internal sealed class DirectStreams(AgentStreams streams, DirectRendezvous rendezvous, DirectSessions sessions, GatewayOptions options, ILogger<DirectStreams> logger)
{
    /// <summary>How long the two ends of an authorised direct stream may take to dial their legs, and then to send SSH's first line on plain legs.</summary>
    private static readonly TimeSpan LegTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The one service that plain legs carry: the one `proxy %h %p` reaches for port 22.</summary>
    public const string SshService = "ssh";

    /// <summary>
    /// Runs a direct stream to its end, or refuses it; returns null then. When no direct leg can be
    /// made and the user asked with <c>fallback</c>, nothing has been said to the user yet and the
    /// reason is returned instead: the caller carries the stream through the gateway. With
    /// <paramref name="asSession"/>, the stream is a direct session where the agent serves them.
    /// </summary>
    public async Task<string?> RunAsync(TunnelConnection client, StreamRecord record, AgentSession session, OpenRequest request, bool plain, bool fallback, bool asSession = false)
    {
        string? whyNot = null;
        if (!options.DirectLegs)
        {
            whyNot = "this gateway makes no direct legs (gateway.yaml: direct_legs: false)";
        }
        else if (session.Certificate is null)
        {
            whyNot = $"agent {session.Agent} does not take direct streams (it is older than the gateway); update it";
        }
        if (whyNot is not null)
        {
            return await NoDirectLegAsync(client, record, whyNot, fallback);
        }
        // A session runs TLS end to end whatever the service, an SSH one included: its trunk needs it.
        var inSession = asSession && session.DirectSessions;
        if (inSession)
        {
            record.CarriesSession();
        }
        plain = !inSession && plain && session.PlainLegs && request.Service == SshService;
        var meeting = rendezvous.Open(plain, record.LegRefused);
        // Made before the agent is asked: the places it holds of the user's room go in the agent's ticket.
        await using var reported = inSession ? sessions.Open(meeting.Id, record, session, client.Remote, options.Trunks.MaxStreams) : null;
        try
        {
            var agentTicket = reported is not null ? meeting.AgentTicket with { Session = true, MaxStreams = options.Trunks.MaxStreams, Granted = reported.Granted } : meeting.AgentTicket;
            if (await AskAgentAsync(session, request with { Leg = agentTicket }, client.Closed) is { } error)
            {
                return await NoDirectLegAsync(client, record, $"agent {session.Agent} made no direct leg: {error}", fallback);
            }
            await client.ReplyAsync(Reply.Success with { Direct = meeting.UserTicket(session.Certificate!) with { Session = inSession, MaxStreams = inSession ? options.Trunks.MaxStreams : 0 } }, CancellationToken.None);
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
                    return null;
                }
            }
            byte[]? serviceLine = null, userLine = null;
            if (plain)
            {
                (serviceLine, userLine, var notSsh) = await CheckSshAsync(userLeg, agentLeg, record.Grant!.Revoked);
                if (notSsh is not null)
                {
                    userLeg.Abort();
                    agentLeg.Abort();
                    record.Refuse(notSsh);
                    return null;
                }
            }
            // In the kernel the legs leave Kestrel (with what it had read, the SSH check's bytes
            // included) and half-close as TCP; copied, they stay Kestrel's and close whole. The ends
            // close their legs only when both directions are done (TLS ends half-close inside TLS with
            // close_notify, SSH inside SSH with its channel messages), so nothing is cut short.
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
            // The gateway's own idle timeout, as for a user's trunk: it does not wait for the client to close an idle session.
            reported?.Begin(userLeg.RemoteEndPoint?.ToString(), Cut);
            if (serviceLine is not null && userLine is not null)
            {
                // Written only now, on the legs' own sockets: a taken leg must not have been written to through Kestrel.
                await user.WriteAsync(serviceLine, record.Grant.Revoked);
                await agent.WriteAsync(userLine, record.Grant.Revoked);
            }
            record.Opened(userLeg.RemoteEndPoint?.ToString(), inSession ? StreamPath.SessionLegs : plain ? StreamPath.Plain : StreamPath.Direct);
            var result = await Splice.RunAsync(user, agent, record.Grant.Revoked, record.Meters, options.DirectRelay);
            if (result.Outcome is not SpliceOutcome.Completed)
            {
                // A leg was reset: the other has nowhere to go.
                Cut();
            }
            record.Closed(result.Outcome, reported?.IdleReason);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException or ProtocolException)
        {
            // The user or the agent went away while the stream was being set up.
        }
        finally
        {
            rendezvous.Close(meeting);
        }
        return null;
    }

    /// <summary>No direct leg: the reason goes back to the caller for a fallback, or to the user as a refusal.</summary>
    private async Task<string?> NoDirectLegAsync(TunnelConnection client, StreamRecord record, string reason, bool fallback)
    {
        if (fallback)
        {
            GatewayLog.DirectFallback(logger, record.User.Name, record.Host, record.Service, reason);
            return reason;
        }
        await client.RefuseAsync(record.Refuse(reason + "; or connect without --direct"));
        return null;
    }

    /// <summary>
    /// Plain legs carry SSH alone: each side's first line must be an SSH identification string,
    /// passed on to the other side only once both are (OpenSSH sends its line at once on both
    /// sides, so neither waits for the other). Returns both lines, or why not; nothing is passed here.
    /// </summary>
    private static async Task<(byte[]? ServiceLine, byte[]? UserLine, string? Error)> CheckSshAsync(ConnectionContext userLeg, ConnectionContext agentLeg, CancellationToken revoked)
    {
        using var checking = CancellationTokenSource.CreateLinkedTokenSource(revoked);
        checking.CancelAfter(LegTimeout);
        var fromService = ReadLineAsync(agentLeg, "the service", checking);
        var fromUser = ReadLineAsync(userLeg, "the user's side", checking);
        var (service, serviceError) = await fromService;
        var (user, userError) = await fromUser;
        if (service is null || user is null)
        {
            // A side that was only stopped because the other failed has no error of its own.
            var why = serviceError ?? userError ?? $"no SSH identification string within {LegTimeout.TotalSeconds:0} s";
            return (null, null, $"{why}; plain legs carry only SSH, so the stream was cut before a byte of it crossed");
        }
        return (service, user, null);
    }

    /// <summary>One side's identification string, or why not (null when it was only stopped); a failure stops the other side's wait at once.</summary>
    private static async Task<(byte[]? Line, string? Error)> ReadLineAsync(ConnectionContext leg, string side, CancellationTokenSource checking)
    {
        try
        {
            return (await SshIdentification.ReadAsync(leg.Transport.Input, checking.Token), null);
        }
        catch (OperationCanceledException)
        {
            return (null, null);
        }
        catch (Exception e) when (e is ProtocolException or IOException or InvalidOperationException)
        {
            await checking.CancelAsync();
            return (null, e is ProtocolException p ? $"{side} is not SSH ({p.Message})" : $"{side} went away before its SSH identification string");
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
