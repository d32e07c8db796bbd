using System.Data.Common;
using Npgsql;

namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>
/// The generation kept in memory: a connection of its own LISTENs on the channel the generation's
/// trigger notifies, so another gateway's write reaches this one a moment after it commits, and
/// the same connection reads the row again every half <c>access.recheck_interval</c> in case a
/// notification was lost. A question reads the row itself only when the last confirmation (the
/// listener's read or a question's) is older than the interval (the listener is down, reconnecting
/// or running late) or after this process's own write, which must apply at once. A round trip per question is what the in-memory value saves: two per
/// HTTP request (docs/decisions.md, "Several gateways on PostgreSQL"). While the database is out of
/// reach the value it last had stands, so the answers kept at it go on serving, and questions do not
/// try to connect: the listener tries every second and is what finds it back (docs/decisions.md,
/// "A lost database").
/// </summary>
internal sealed class PostgresGeneration : IStoreGeneration, IDisposable
{
    private readonly NpgsqlDataSource _pool;
    private readonly NpgsqlDataSource _listener;
    private readonly TimeSpan _recheck;
    private readonly StoreHealth _health;
    private readonly TimeProvider _time;
    /// <summary>How long disposal waits for the listening loop to notice it is cancelled.</summary>
    private static readonly TimeSpan ListenerStopWait = TimeSpan.FromSeconds(3);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _listening;
    private long _value = -1;
    private long _confirmedAt;
    private volatile bool _stale = true;

    /// <summary>Reads the row through <paramref name="pool"/> when it must, and starts listening on a connection of its own to <paramref name="url"/>.</summary>
    public PostgresGeneration(NpgsqlDataSource pool, PostgresUrl url, TimeSpan recheckInterval, StoreHealth health, TimeProvider time)
    {
        _pool = pool;
        // The listener's connection is never pooled (returning it would reset its LISTEN) and
        // sends a keepalive, so a database that vanished without a word is noticed.
        _listener = new NpgsqlSlimDataSourceBuilder(new NpgsqlConnectionStringBuilder(url.ConnectionString) { Pooling = false, KeepAlive = 10 }.ConnectionString).Build();
        _recheck = recheckInterval;
        _health = health;
        _time = time;
        _listening = ListenAsync(_stop.Token);
    }

    /// <summary>Called after this process's own committed write: the next question reads the row, so the write applies at once.</summary>
    public void MarkStale() => _stale = true;

    public long Read()
    {
        if ((_stale || _time.GetElapsedTime(Interlocked.Read(ref _confirmedAt)) >= _recheck) && !_health.IsLost)
        {
            // Cleared before the read: a write that commits during it marks the value stale again.
            _stale = false;
            try
            {
                var readAt = _time.GetTimestamp();
                using var connection = _pool.OpenConnection();
                Raise(ReadRow(connection));
                // A question's read confirms the value as the listener's does. Without this, a listener
                // that runs late (its continuation queued behind a busy thread pool) made every question
                // read the row, each read blocking a pool thread and delaying the listener further:
                // on a loaded 2-core machine most HTTP requests paid a round trip.
                Confirm(readAt);
                _health.Reached();
            }
            catch (Exception e) when (StoreHealth.IsOutage(e))
            {
                // The database went away between the listener's reads: the last value stands, and is read again once it is back.
                _stale = true;
                _health.Lost(e);
            }
        }
        return Interlocked.Read(ref _value);
    }

    /// <summary>Stops listening and lets go of the listener's connection; the pool is the caller's.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            // Bounded: cancelling a wait on the connection asks the server to cancel it, and a database that does not answer
            // must not keep a one-shot command such as `gateway add-agent` from exiting; disposing the source below closes it.
            _ = _listening.Wait(ListenerStopWait);
        }
        catch (AggregateException)
        {
            // Stopping is how the loop ends: whatever it was doing then (a wait, a connect, a retry's delay) fails with it.
        }
        _listener.Dispose();
        _stop.Dispose();
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _listener.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, e) =>
                {
                    if (long.TryParse(e.Payload, out var value))
                    {
                        Raise(value);
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgresSchema.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken);
                }
                while (true)
                {
                    // Read after LISTEN, so nothing committed in between is missed.
                    var readAt = _time.GetTimestamp();
                    Raise(ReadRow(connection));
                    Confirm(readAt);
                    _health.Reached();
                    var half = _recheck / 2;
                    var until = readAt + (long)(half.TotalSeconds * _time.TimestampFrequency);
                    while (_time.GetTimestamp() < until)
                    {
                        await connection.WaitAsync(_time.GetElapsedTime(_time.GetTimestamp(), until), cancellationToken);
                    }
                }
            }
            catch (Exception e) when (e is DbException or IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                // The database went away: the last value stands until a read succeeds (here or in a
                // store operation); try again in a second.
                _health.Lost(e);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken);
            }
        }
    }

    private static long ReadRow(NpgsqlConnection connection)
    {
        using var command = new NpgsqlCommand("SELECT value FROM access_generation WHERE id = 0", connection);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Records a read of the row made at <paramref name="readAt"/>; a later confirmation is never moved back.</summary>
    private void Confirm(long readAt)
    {
        var current = Interlocked.Read(ref _confirmedAt);
        while (readAt > current)
        {
            var seen = Interlocked.CompareExchange(ref _confirmedAt, readAt, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    /// <summary>The generation only grows: an older answer (a read that raced a notification) never moves it back.</summary>
    private void Raise(long value)
    {
        var current = Interlocked.Read(ref _value);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref _value, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}
