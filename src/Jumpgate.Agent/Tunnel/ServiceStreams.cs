using Jumpgate.Agent.Configuration;
using Jumpgate.Agent.Hosting;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// The agent's end of every stream the gateway opens: read which service it is for, connect to
/// it inside this network, answer, and splice the trunk stream (the user's side) to the service
/// until either end is done; or, for a direct stream, dial this end's own leg and splice that;
/// or, for a direct session, serve many streams to the one bound service inside one leg
/// (ServiceStreams.Sessions.cs). <paramref name="reports"/> tells the gateway of each session stream.
/// </summary>
internal sealed partial class ServiceStreams(AgentOptions options, ILogger logger, SessionReports reports)
{
    /// <summary>One stream the gateway opened: read which service it is for, connect, and splice until either end is done.</summary>
    public async Task ServeAsync(TrunkStream tunnel, CancellationToken aborted)
    {
        await using var _ = tunnel;
        OpenRequest request;
        try
        {
            request = await Frame.ReadAsync(tunnel, ProtocolJson.Default.OpenRequest, aborted);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or OperationCanceledException)
        {
            return;
        }
        if (request.Leg is { Session: true } session)
        {
            // No service yet: a session connects to it once per stream inside.
            await ServeSessionAsync(tunnel, request, session, aborted);
            return;
        }
        var (target, address, error) = await ServiceDialer.ConnectAsync(options, request.Host, request.Service, aborted);
        if (target is null)
        {
            AgentLog.StreamFailed(logger, request.Host, request.Service, error!);
            await TryWriteAsync(tunnel, Reply.Failure(error!));
            return;
        }
        await using (target)
        {
            if (request.Leg is { Plain: true } plain)
            {
                await ServePlainAsync(tunnel, request, plain, target, address, aborted);
                return;
            }
            if (request.Leg is { } ticket)
            {
                await ServeDirectAsync(tunnel, request, ticket, target, address, aborted);
                return;
            }
            if (!await TryWriteAsync(tunnel, Reply.Success))
            {
                return;
            }
            AgentLog.StreamOpened(logger, request.Host, request.Service, address);
            var result = await Splice.RunAsync(tunnel, target, aborted);
            AgentLog.StreamClosed(logger, request.Host, request.Service, result.Outcome.ToString(), result.ToService, result.ToUser);
        }
    }

    /// <summary>
    /// A direct stream on plain legs (docs/protocol.md, "Plain legs"), its SSH service connected:
    /// dial this end's leg and prove the ticket to the gateway's nonce, say yes on the trunk
    /// stream, then splice the leg to the service in the kernel. SSH encrypts itself; the gateway checks it is SSH.
    /// </summary>
    private async Task ServePlainAsync(TrunkStream tunnel, OpenRequest request, DirectTicket ticket, SocketStream target, string address, CancellationToken aborted)
    {
        if (await DialLegAsync(tunnel, request, token => PlainLeg.DialAsync(options.Gateway, ticket, PlainLeg.AgentEnd, token), aborted) is not { } leg)
        {
            return;
        }
        await using (leg)
        {
            if (!await TryWriteAsync(tunnel, Reply.Success))
            {
                return;
            }
            AgentLog.StreamOpened(logger, request.Host, request.Service, address);
            // Two TCP sockets with nothing above them: spliced in the kernel, as the gateway relays legs (its CPU
            // per GB spliced was 0.70 × copied in the direct relay figure), leaving the cores to ssh's and sshd's cipher.
            var result = await Splice.RunAsync(leg, target, aborted, mode: SpliceMode.Kernel);
            AgentLog.StreamClosed(logger, request.Host, request.Service, result.Outcome.ToString(), result.ToService, result.ToUser);
        }
    }

    /// <summary>Dials this end's leg within the connect timeout; on failure, says why on the trunk stream and returns null.</summary>
    private async Task<T?> DialLegAsync<T>(TrunkStream tunnel, OpenRequest request, Func<CancellationToken, Task<T>> dial, CancellationToken aborted)
        where T : class
    {
        using var dialing = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        dialing.CancelAfter(options.ConnectTimeout);
        try
        {
            return await dial(dialing.Token);
        }
        catch (Exception e) when (e is GatewayException or IOException or ProtocolException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            var reason = e is OperationCanceledException ? $"no answer within {options.ConnectTimeout.TotalSeconds:0.#} s" : e.Message;
            AgentLog.StreamFailed(logger, request.Host, request.Service, $"could not dial the gateway for a direct stream: {reason}");
            await TryWriteAsync(tunnel, Reply.Failure($"the agent could not dial the gateway for a direct stream: {reason}"));
            return null;
        }
    }

    /// <summary>
    /// A direct stream (docs/protocol.md, "Direct streams"), its service connected: dial this end's
    /// leg to the gateway, say yes on the trunk stream, then serve TLS to the user's end across the
    /// gateway and splice it to the service once the user's end has shown the stream's key.
    /// </summary>
    private async Task ServeDirectAsync(TrunkStream tunnel, OpenRequest request, DirectTicket ticket, SocketStream target, string address, CancellationToken aborted)
    {
        if (await DialLegAsync<Stream>(tunnel, request, async token => await DirectLeg.DialAsync(options.Gateway, ticket, token), aborted) is not { } leg)
        {
            return;
        }
        await using (leg)
        {
            if (!await TryWriteAsync(tunnel, Reply.Success))
            {
                return;
            }
            if (await AcceptUserEndAsync(leg, ticket, request, "stream", aborted) is not { } tls)
            {
                return;
            }
            await using (tls)
            {
                AgentLog.StreamOpened(logger, request.Host, request.Service, address);
                var result = await Splice.RunAsync(tls, target, aborted);
                AgentLog.StreamClosed(logger, request.Host, request.Service, result.Outcome.ToString(), result.ToService, result.ToUser);
            }
        }
    }

    /// <summary>
    /// Serves TLS to the user's end across the gateway and checks the stream's key, within
    /// <see cref="DirectSetupTimeout"/>; null (logged) when the user's end did not make it.
    /// </summary>
    private async Task<TlsStream?> AcceptUserEndAsync(Stream leg, DirectTicket ticket, OpenRequest request, string what, CancellationToken aborted)
    {
        using var setup = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        setup.CancelAfter(DirectSetupTimeout);
        try
        {
            return await DirectLeg.AcceptAsAgentAsync(leg, ticket, DirectCertificate.Context, setup.Token);
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or ProtocolException or OperationCanceledException)
        {
            AgentLog.StreamFailed(logger, request.Host, request.Service, $"the direct {what} was not set up ({(e is OperationCanceledException ? "timed out" : e.Message)})");
            return null;
        }
    }

    /// <summary>How long a direct stream's user end may take to reach this agent across the gateway and finish TLS.</summary>
    private static readonly TimeSpan DirectSetupTimeout = TimeSpan.FromSeconds(15);

    private static async Task<bool> TryWriteAsync(Stream tunnel, Reply reply)
    {
        try
        {
            await Frame.WriteAsync(tunnel, reply, ProtocolJson.Default.Reply, CancellationToken.None);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
    }
}
