using System.Collections.Concurrent;
using System.Net;
using Jumpgate.Gateway.Agents;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// One HTTP/1.1 connection pool per agent session and service: SocketsHttpHandler does the
/// HTTP, and every connection it opens is a stream through the agent (<see cref="AgentStreams"/>)
/// instead of a socket. Idle connections are kept briefly so a page's burst of requests reuses
/// them; a pool dies with its agent session.
/// </summary>
internal sealed class UpstreamConnections(AgentStreams streams) : IDisposable
{
    private readonly ConcurrentDictionary<(string Session, string Host, string Service), HttpMessageInvoker> _pools = new();

    public HttpMessageInvoker For(AgentSession session, string host, string service)
    {
        var key = (session.Id, host, service);
        if (_pools.TryGetValue(key, out var existing))
        {
            return existing;
        }
        var created = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                // Disposing the stream (the HTTP connection is done) resets it; the agent hangs up on the service.
                var (stream, error) = await streams.OpenAsync(session, host, service, cancellationToken);
                return stream ?? throw new HttpRequestException(error);
            },
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            // Distributed tracing headers are the browser's business, not the gateway's.
            ActivityHeadersPropagator = null,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(20),
            MaxResponseHeadersLength = 64,
        }, disposeHandler: true);
        var pool = _pools.GetOrAdd(key, created);
        if (pool != created)
        {
            created.Dispose();
            return pool;
        }
        session.Ended.Register(() =>
        {
            if (_pools.TryRemove(key, out var ended))
            {
                ended.Dispose();
            }
        });
        return pool;
    }

    public void Dispose()
    {
        foreach (var pool in _pools.Values)
        {
            pool.Dispose();
        }
        _pools.Clear();
    }
}
