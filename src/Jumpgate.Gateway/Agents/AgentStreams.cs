using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Logging;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// Opens a stream to a host's service through an agent (<see cref="StreamOpener"/> on the agent's
/// least busy trunk) and words what can go wrong. Tunnel streams and the HTTP proxy's upstream
/// connections both start here.
/// </summary>
internal sealed class AgentStreams(ILogger<AgentStreams> logger)
{
    /// <summary>How long to wait for a trunk. A live agent has one; a reconnecting agent dials one within a round trip or two.</summary>
    private static readonly TimeSpan TrunkTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the agent may take to reach the service (a TCP connect inside its network).</summary>
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How many of an agent's trunks a new stream tries before the agent is called not answering.</summary>
    private const int Attempts = 3;

    /// <summary>Asks the agent to open the service and returns at once, without its answer (<see cref="ReadAnswerAsync"/>).</summary>
    public async Task<(TrunkStream? Stream, string? Error)> StartAsync(AgentSession session, OpenRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await StreamOpener.StartAsync(new SessionTrunks(session, logger), request, Attempts, cancellationToken);
            return stream is null ? (null, NotAnswering(session.Agent)) : (stream, null);
        }
        catch (TimeoutException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>Reads the agent's answer to <see cref="StartAsync"/>: null when it reached the service, else why not, in words.</summary>
    public static async Task<string?> ReadAnswerAsync(TrunkStream stream, string agent, OpenRequest request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(OpenTimeout);
        Reply reply;
        try
        {
            reply = await StreamOpener.ReadAnswerAsync(stream, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"agent {agent} did not open {request.Host}:{request.Service} within {OpenTimeout.TotalSeconds:0} s";
        }
        return reply.Ok ? null : $"agent {agent} could not open {request.Host}:{request.Service}: {reply.Error}";
    }

    /// <summary>Opens a stream and waits for the agent's answer (the HTTP proxy's connections), trying another trunk if one turns out dead.</summary>
    public async Task<(TrunkStream? Stream, string? Error)> OpenAsync(AgentSession session, string host, string service, CancellationToken cancellationToken)
    {
        var request = new OpenRequest { Host = host, Service = service };
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var (stream, error) = await StartAsync(session, request, cancellationToken);
            if (stream is null)
            {
                return (null, error);
            }
            try
            {
                if (await ReadAnswerAsync(stream, session.Agent, request, cancellationToken) is { } refused)
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
        return (null, NotAnswering(session.Agent));
    }

    /// <summary>An agent none of whose trunks took a new stream, in words for the user.</summary>
    public static string NotAnswering(string agent) => $"agent {agent} is not answering; try again in a few seconds";

    /// <summary>An agent session's trunks as a <see cref="StreamOpener"/> takes them: a dead one is only logged (the session drops it when its pump ends).</summary>
    private sealed class SessionTrunks(AgentSession session, ILogger logger) : ITrunkSource
    {
        public async ValueTask<Trunk> TakeAsync(CancellationToken cancellationToken) => await session.TakeTrunkAsync(TrunkTimeout, cancellationToken);

        public void Stale(Trunk trunk, Exception error) => GatewayLog.StaleTrunk(logger, session.Agent);
    }
}
