using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// Opens a stream to a host's service through an agent: a new stream on one of the agent's
/// trunks, whose first frame asks the agent to connect it to the service. Tunnel streams and the
/// HTTP proxy's upstream connections both start here.
/// </summary>
internal sealed class AgentStreams(ILogger<AgentStreams> logger)
{
    /// <summary>How long to wait for a trunk. A live agent has one; a reconnecting agent dials one within a round trip or two.</summary>
    private static readonly TimeSpan TrunkTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the agent may take to reach the service (a TCP connect inside its network).</summary>
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Asks the agent to open the service on a new stream, trying another trunk if one turns out dead.</summary>
    public async Task<(TrunkStream? Stream, string? Error)> OpenAsync(AgentSession session, string host, string service, CancellationToken cancellationToken)
    {
        var request = new OpenRequest { Host = host, Service = service };
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
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(OpenTimeout);
                await Frame.WriteAsync(stream, request, ProtocolJson.Default.OpenRequest, timeout.Token);
                var reply = await Frame.ReadAsync(stream, ProtocolJson.Default.Reply, timeout.Token);
                if (reply.Ok)
                {
                    return (stream, null);
                }
                await stream.DisposeAsync();
                return (null, $"agent {session.Agent} could not open {host}:{service}: {reply.Error}");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await stream.DisposeAsync();
                return (null, $"agent {session.Agent} did not open {host}:{service} within {OpenTimeout.TotalSeconds:0} s");
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.StaleTrunk(logger, session.Agent);
                await stream.DisposeAsync();
            }
        }
        return (null, $"agent {session.Agent} is not answering; try again in a few seconds");
    }
}
