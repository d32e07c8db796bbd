using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// Opens a stream to a host's service through an agent: takes one of the agent's idle
/// connections and asks the agent to connect it to the service. Tunnel streams and the HTTP
/// proxy's upstream connections both start here.
/// </summary>
internal sealed class AgentStreams(ILogger<AgentStreams> logger)
{
    /// <summary>How long the agent may take to hand over a connection. A live agent with an empty pool needs one round trip.</summary>
    private static readonly TimeSpan PoolTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the agent may take to reach the service (a TCP connect inside its network).</summary>
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Asks the agent to open the service on one of its idle connections, trying again if that connection was stale.</summary>
    public async Task<(PooledConnection? Connection, string? Error)> OpenAsync(AgentSession session, string host, string service, CancellationToken cancellationToken)
    {
        var request = new OpenRequest { Host = host, Service = service };
        for (var attempt = 0; attempt < 3; attempt++)
        {
            PooledConnection pooled;
            try
            {
                pooled = await session.TakeAsync(PoolTimeout, cancellationToken);
            }
            catch (TimeoutException e)
            {
                return (null, e.Message);
            }
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(OpenTimeout);
                var agent = pooled.Connection.Stream;
                await Frame.WriteAsync(agent, request, ProtocolJson.Default.OpenRequest, timeout.Token);
                var reply = await Frame.ReadAsync(agent, ProtocolJson.Default.Reply, timeout.Token);
                if (reply.Ok)
                {
                    return (pooled, null);
                }
                Discard(pooled);
                return (null, $"agent {session.Agent} could not open {host}:{service}: {reply.Error}");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Discard(pooled);
                return (null, $"agent {session.Agent} did not open {host}:{service} within {OpenTimeout.TotalSeconds:0} s");
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.StalePoolConnection(logger, session.Agent);
                Discard(pooled);
            }
        }
        return (null, $"agent {session.Agent} is not answering; try again in a few seconds");
    }

    /// <summary>Closes a connection that will carry nothing more and gives it back to its pool's bookkeeping.</summary>
    public static void Discard(PooledConnection pooled)
    {
        pooled.Connection.Abort();
        pooled.Release();
    }
}
