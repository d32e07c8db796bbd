using Jumpgate.Core.Audit;
using Jumpgate.Gateway.Audit;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// The audit of a browser's WebSocket, which the forwarder copies as bytes once the service has
/// accepted it. It stands in for the server's upgrade features (HTTP/1.1 Upgrade and HTTP/2
/// extended CONNECT), so the browser's end of the upgraded connection, which the forwarder asks
/// them for, counts what passes each way (WebSocket frames, as sent). An <c>http</c> event says
/// when the WebSocket opened and, with those counts, when it closed and which side ended the
/// connection; which side began the closing handshake is inside the frames, which the gateway
/// does not read.
/// </summary>
internal sealed class WebSocketAudit : IHttpUpgradeFeature, IHttpExtendedConnectFeature
{
    private readonly HttpContext _http;
    private readonly IHttpUpgradeFeature? _upgrade;
    private readonly IHttpExtendedConnectFeature? _connect;
    private readonly AuditEvent _opened;
    private readonly AuditLog _audit;
    private readonly TimeProvider _time;
    private CountingStream? _browser;
    private DateTimeOffset _start;

    private WebSocketAudit(HttpContext http, AuditEvent opened, AuditLog audit, TimeProvider time)
    {
        _http = http;
        _upgrade = http.Features.Get<IHttpUpgradeFeature>();
        _connect = http.Features.Get<IHttpExtendedConnectFeature>();
        _opened = opened;
        _audit = audit;
        _time = time;
    }

    /// <summary>Puts the audit between the forwarder and the server for this one request.</summary>
    public static WebSocketAudit Install(HttpContext http, AuditEvent opened, AuditLog audit, TimeProvider time)
    {
        var audited = new WebSocketAudit(http, opened, audit, time);
        if (audited._upgrade is not null)
        {
            http.Features.Set<IHttpUpgradeFeature>(audited);
        }
        if (audited._connect is not null)
        {
            http.Features.Set<IHttpExtendedConnectFeature>(audited);
        }
        return audited;
    }

    bool IHttpUpgradeFeature.IsUpgradableRequest => _upgrade?.IsUpgradableRequest ?? false;

    async Task<Stream> IHttpUpgradeFeature.UpgradeAsync() => Opened(await _upgrade!.UpgradeAsync());

    bool IHttpExtendedConnectFeature.IsExtendedConnect => _connect?.IsExtendedConnect ?? false;

    string? IHttpExtendedConnectFeature.Protocol => _connect?.Protocol;

    async ValueTask<Stream> IHttpExtendedConnectFeature.AcceptAsync() => Opened(await _connect!.AcceptAsync());

    private CountingStream Opened(Stream browser)
    {
        _start = _time.GetUtcNow();
        _audit.Write(_opened with { Time = _start, Start = _start, Reason = "websocket " + _http.Request.Path });
        return _browser = new CountingStream(browser);
    }

    /// <summary>Writes the closing event, if the service accepted the WebSocket at all (otherwise its answer went back as any response).</summary>
    public void Closed(ForwarderError error)
    {
        if (_browser is not { } browser)
        {
            return;
        }
        var how = error switch
        {
            ForwarderError.UpgradeRequestClient or ForwarderError.UpgradeResponseClient => "closed by the browser",
            ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination => "closed by the service",
            ForwarderError.None => browser.EndedByPeer ? "closed by the browser" : "closed by the service",
            _ => "cut: the browser's connection was lost, or the gateway revoked access or stopped",
        };
        var end = _time.GetUtcNow();
        _audit.Write(_opened with
        {
            Time = end, Outcome = "closed", Start = _start, End = end, BytesUp = browser.BytesRead, BytesDown = browser.BytesWritten,
            Reason = $"websocket {_http.Request.Path}: {how}",
        });
    }

    /// <summary>The browser's end of the upgraded connection, counting what it sends (up) and receives (down).</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public long BytesWritten { get; private set; }

        /// <summary>The browser ended its side (the end of its data), before the service ended the connection.</summary>
        public bool EndedByPeer { get; private set; }

        public override bool CanRead => inner.CanRead;
        public override bool CanWrite => inner.CanWrite;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            BytesRead += read;
            // The forwarder also reads zero bytes, only to wait for data.
            EndedByPeer |= read == 0 && buffer.Length > 0;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            BytesWritten += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}
