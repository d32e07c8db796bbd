using System.Text.Json;
using System.Threading.Channels;
using Jumpgate.Core.Audit;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Audit;

/// <summary>
/// Where audit events go: a bounded queue that one background task drains in batches into
/// audit.jsonl and the store's audit table, so a stream never waits on a disk. If the queue is
/// full (a flood faster than the disk), events are counted and the count is logged and audited
/// instead of the gateway slowing down or growing without bound.
/// </summary>
internal sealed class AuditLog : IAsyncDisposable
{
    /// <summary>Room for a burst of ten thousand events, about 5 MiB.</summary>
    private const int Capacity = 10_000;

    /// <summary>At most this many events per store transaction.</summary>
    private const int BatchSize = 256;

    /// <summary>
    /// How long the writer lets events gather after the first one arrives, so that the streams
    /// of a busy moment share one commit and one wake-up instead of paying for one each.
    /// </summary>
    private static readonly TimeSpan GatherDelay = TimeSpan.FromMilliseconds(5);

    private readonly Channel<AuditEvent> _queue = Channel.CreateBounded<AuditEvent>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly IAuditStore _store;
    private readonly StoreHealth _health;
    private readonly AuditFile _file;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditLog> _logger;
    private readonly Task _writer;
    private long _dropped;

    public AuditLog(IAuditStore store, StoreHealth health, AuditFile file, TimeProvider time, ILogger<AuditLog> logger)
    {
        _store = store;
        _health = health;
        _file = file;
        _time = time;
        _logger = logger;
        _writer = Task.Run(WriteLoopAsync);
    }

    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Events written since start (queued, dropped or not): a watcher that sees it move knows the audit has news.</summary>
    public long Written => Interlocked.Read(ref _written);

    private long _written;

    public void Write(AuditEvent audit)
    {
        Interlocked.Increment(ref _written);
        if (!_queue.Writer.TryWrite(audit))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<AuditEvent>(BatchSize);
        while (await _queue.Reader.WaitToReadAsync())
        {
            if (_queue.Reader.Count < BatchSize)
            {
                await Task.Delay(GatherDelay);
            }
            while (batch.Count < BatchSize && _queue.Reader.TryRead(out var audit))
            {
                batch.Add(audit);
            }
            if (Interlocked.Exchange(ref _dropped, 0) is var dropped and > 0)
            {
                GatewayLog.AuditDropped(_logger, dropped);
                batch.Add(new AuditEvent { Time = Now, Event = "audit", Outcome = "dropped", Reason = $"{dropped} events dropped: the audit queue was full" });
            }
            try
            {
                foreach (var audit in batch)
                {
                    _file.AppendLine(JsonSerializer.SerializeToUtf8Bytes(audit, AuditJson.Default.AuditEvent));
                }
                _file.Flush();
                _store.Append(batch);
            }
            catch (System.Data.Common.DbException e)
            {
                // The store's table failed, audit.jsonl has the batch: the store's health says so once
                // a minute while it lasts, with a count, rather than a line per batch.
                _health.Lost(e);
                _health.AuditKeptInFileOnly(batch.Count);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full disk must not stop the gateway; say so and keep going.
                GatewayLog.AuditWriteFailed(_logger, batch.Count, e.Message);
            }
            batch.Clear();
        }
    }

    /// <summary>Writes what is queued and stops; the gateway disposes this after its connections have drained.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
        _file.Dispose();
    }
}
