using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// Opens a stream to a host's service through an agent: a new stream on one of the agent's
/// trunks, whose first frame asks the agent to connect it to the service and whose first frame
/// back is the agent's answer. Tunnel streams and the HTTP proxy's upstream connections both
/// start here.
/// </summary>
internal sealed class AgentStreams(ILogger<AgentStreams> logger)
{
    /// <summary>How long to wait for a trunk. A live agent has one; a reconnecting agent dials one within a round trip or two.</summary>
    private static readonly TimeSpan TrunkTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the agent may take to reach the service (a TCP connect inside its network).</summary>
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Asks the agent to open the service on a new stream and returns at once, without waiting for
    /// its answer (<see cref="ReadAnswerAsync"/> reads it), so the user's first bytes can follow the
    /// request on the same round trip. A trunk that is found dead here is replaced by another.
    /// </summary>
    public Task<(TrunkStream? Stream, string? Error)> StartAsync(AgentSession session, string host, string service, CancellationToken cancellationToken) =>
        StartAsync(session, new OpenRequest { Host = host, Service = service }, cancellationToken);

    /// <summary>As above, with the request spelled out (a direct stream's carries the agent's ticket).</summary>
    public async Task<(TrunkStream? Stream, string? Error)> StartAsync(AgentSession session, OpenRequest request, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            Trunk trunk;
            try
            {
                trunk = await session.TakeTrunkAsync(TrunkTimeout, cancellationToken);
            }
            catch (TimeoutException e)
            {
                return (null, e.Message);
            }
            var stream = trunk.Open();
            try
            {
                await Frame.WriteAsync(stream, request, ProtocolJson.Default.OpenRequest, cancellationToken);
                return (stream, null);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.StaleTrunk(logger, session.Agent);
                await stream.DisposeAsync();
            }
        }
        return (null, NotAnswering(session));
    }

    /// <summary>Reads the agent's answer to <see cref="StartAsync"/>: null when it reached the service, else why not, in words.</summary>
    public static async Task<string?> ReadAnswerAsync(TrunkStream stream, AgentSession session, string host, string service, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(OpenTimeout);
        Reply reply;
        try
        {
            reply = await Frame.ReadAsync(stream, ProtocolJson.Default.Reply, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"agent {session.Agent} did not open {host}:{service} within {OpenTimeout.TotalSeconds:0} s";
        }
        return reply.Ok ? null : $"agent {session.Agent} could not open {host}:{service}: {reply.Error}";
    }

    /// <summary>Opens a stream and waits for the agent's answer (the HTTP proxy's connections), trying another trunk if one turns out dead.</summary>
    public async Task<(TrunkStream? Stream, string? Error)> OpenAsync(AgentSession session, string host, string service, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (stream, error) = await StartAsync(session, host, service, cancellationToken);
            if (stream is null)
            {
                return (null, error);
            }
            try
            {
                if (await ReadAnswerAsync(stream, session, host, service, cancellationToken) is { } refused)
                {
                    await stream.DisposeAsync();
                    return (null, refused);
                }
                return (stream, null);
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.StaleTrunk(logger, session.Agent);
                await stream.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
                await stream.DisposeAsync();
                throw;
            }
        }
        return (null, NotAnswering(session));
    }

    public static string NotAnswering(AgentSession session) => $"agent {session.Agent} is not answering; try again in a few seconds";
}
