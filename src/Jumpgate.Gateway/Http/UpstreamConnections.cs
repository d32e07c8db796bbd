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
                var (pooled, error) = await streams.OpenAsync(session, host, service, cancellationToken);
                return pooled is null ? throw new HttpRequestException(error) : new AgentLegStream(pooled);
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

    /// <summary>The agent leg of one upstream HTTP connection; closing it gives the pooled connection back for Kestrel to close.</summary>
    private sealed class AgentLegStream(PooledConnection pooled) : Stream
    {
        private readonly Stream _inner = pooled.Connection.Stream;
        private int _disposed;

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            _inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Flush() => _inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                // The HTTP connection is done (closed by either end, or idle too long): the agent sees the close and hangs up on the service.
                AgentStreams.Discard(pooled);
            }
            base.Dispose(disposing);
        }
    }
}
