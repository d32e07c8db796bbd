using System.Data.Common;
using Jumpgate.Gateway.Logging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jumpgate.Gateway.Store;

/// <summary>
/// Whether the store's database answers, as the operations on it find out: a connection that
/// cannot be opened (or a read that fails for want of the database) marks it lost, the next one
/// that opens marks it back. While it is lost the gateway answers what it can from the answers it
/// keeps (docs/decisions.md, "A lost database") and refuses what it cannot check; the operator
/// reads one line when it is lost, one a minute while it stays lost (however many requests fail
/// meanwhile), and one when it is back; a database that comes and goes gets at most one line of
/// each kind a minute.
/// <paramref name="dropIdleConnections"/> empties the backend's pool when the database is lost: a
/// pooled connection opens without a round trip, so one kept from before would pass for the
/// database being back; after the drop, a connection that opens has reached it.
/// </summary>
internal sealed class StoreHealth(TimeProvider time, Action? dropIdleConnections = null)
{
    /// <summary>How often a store that stays lost is logged again: a line a minute, not one per request.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    /// <summary>What a peer whose credentials cannot be checked is told: the cause and the fix, never the database's address or words.</summary>
    public const string Refusal = "the gateway cannot check credentials now (its database is out of reach); try again in a minute";

    private readonly Lock _lock = new();
    private volatile bool _lost;
    private long _lostAt;
    private long? _loggedAt;
    private long? _backLoggedAt;
    private long _refused;
    private long _auditKeptInFileOnly;

    /// <summary>Where the lines go; the gateway sets it once its logging is built (the store opens before).</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>Told how long each operation held its connection, from opening it to closing it; set with the logger (the metrics are built after the store).</summary>
    public Action<TimeSpan>? OperationTimed { get; set; }

    /// <summary>Times <paramref name="connection"/> from <paramref name="opening"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp: a real duration, whatever clock the store runs on) until it closes.</summary>
    public void Time(DbConnection connection, long opening)
    {
        if (OperationTimed is not { } timed)
        {
            return;
        }
        connection.StateChange += (_, change) =>
        {
            if (change.CurrentState == System.Data.ConnectionState.Closed)
            {
                timed(System.Diagnostics.Stopwatch.GetElapsedTime(opening));
            }
        };
    }

    /// <summary>True from the first failure for want of the database until an operation reaches it again.</summary>
    public bool IsLost => _lost;

    /// <summary>
    /// True for a failure of the store's database: both providers wrap a socket's or a timeout's
    /// failure in their <see cref="DbException"/>, and a peer's IOException must never pass for one.
    /// </summary>
    public static bool IsOutage(Exception e) => e is DbException;

    /// <summary>An operation failed for want of the database.</summary>
    public void Lost(Exception e)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (!_lost)
            {
                // Before the mark: a connection handed out from the pool from here on is a new one.
                dropIdleConnections?.Invoke();
                _lostAt = now;
                _lost = true;
                // A database that flaps (a restart that answers once more on its way down) gets a line a minute, not one per flap.
                if (_loggedAt is not { } logged || time.GetElapsedTime(logged, now) >= LogInterval)
                {
                    _loggedAt = now;
                    GatewayLog.StoreLost(Logger, e.Message);
                }
            }
            else if (time.GetElapsedTime(_loggedAt!.Value, now) >= LogInterval)
            {
                _loggedAt = now;
                GatewayLog.StoreStillLost(Logger, time.GetElapsedTime(_lostAt, now).TotalSeconds, Interlocked.Read(ref _refused), Interlocked.Read(ref _auditKeptInFileOnly), e.Message);
            }
        }
    }

    /// <summary>An authentication was refused because the store could not be read.</summary>
    public void Refused() => Interlocked.Increment(ref _refused);

    /// <summary>Audit events that went to audit.jsonl but not to the store's table.</summary>
    public void AuditKeptInFileOnly(int count) => Interlocked.Add(ref _auditKeptInFileOnly, count);

    /// <summary>An operation reached the database; costs one memory read while nothing was lost.</summary>
    public void Reached()
    {
        if (!_lost)
        {
            return;
        }
        lock (_lock)
        {
            if (!_lost)
            {
                return;
            }
            var now = time.GetTimestamp();
            if (_backLoggedAt is not { } logged || time.GetElapsedTime(logged, now) >= LogInterval)
            {
                _backLoggedAt = now;
                GatewayLog.StoreBack(Logger, time.GetElapsedTime(_lostAt, now).TotalSeconds, Interlocked.Exchange(ref _refused, 0), Interlocked.Exchange(ref _auditKeptInFileOnly, 0));
            }
            _lost = false;
        }
    }
}
