using System.Collections.Concurrent;
using System.Data.Common;
using Jumpgate.Gateway.Store.Sql;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// The generation of a SQLite store. The row itself is read only when the change counter that
/// every Jumpgate process moves after its writes (<see cref="SqliteChangeCounter"/>) has moved
/// since the last read, or when that read is older than <paramref name="recheck"/>, which bounds
/// how late a write made by anything else (a hand-run <c>sqlite3</c>, a process that died between
/// its commit and its count) is seen. So a write by the gateway or an admin command applies to
/// the very next question, and a question when nothing changed costs a memory load.
/// A read borrows a connection with the statement prepared on it and gives it back, so
/// concurrent requests read side by side instead of queueing for one connection.
/// </summary>
internal sealed class SqliteGeneration(SqliteFileSource source, TimeSpan recheck, TimeProvider time) : IStoreGeneration, IDisposable
{
    private readonly SqliteChangeCounter _changes = new(source.Path);
    private readonly ConcurrentBag<DbCommand> _idle = [];
    private Known? _known;
    private volatile bool _disposed;

    /// <summary>The generation read while the change counter stood at <paramref name="Changes"/>.</summary>
    private sealed record Known(long Changes, long Value, long ReadAt);

    public long Read()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // The counter before the row: a write counted after this read moves it again, so the next question reads the row.
        var changes = _changes.Read();
        var known = Volatile.Read(ref _known);
        if (known is not null && known.Changes == changes && time.GetElapsedTime(known.ReadAt) < recheck)
        {
            return known.Value;
        }
        var readAt = time.GetTimestamp();
        var value = ReadRow();
        // Racing readers may leave an older pair here: it only costs the next question a read.
        Volatile.Write(ref _known, new Known(changes, value, readAt));
        return value;
    }

    /// <summary>Counts a write this process committed, for every process that maps the counter (this one included).</summary>
    public void Wrote() => _changes.Moved();

    private long ReadRow()
    {
        if (!_idle.TryTake(out var query))
        {
            query = SqlDatabase.Command(source.OpenConnection(), "SELECT value FROM access_generation WHERE id = 0");
            query.Prepare();
        }
        try
        {
            return (long)query.ExecuteScalar()!;
        }
        finally
        {
            _idle.Add(query);
            if (_disposed)
            {
                // Disposed while this read ran: the connection given back must not outlive the store.
                CloseIdle();
            }
        }
    }

    /// <summary>Lets go of the connections kept for the read and of the counter's mapping.</summary>
    public void Dispose()
    {
        _disposed = true;
        CloseIdle();
        _changes.Dispose();
    }

    private void CloseIdle()
    {
        while (_idle.TryTake(out var query))
        {
            var connection = query.Connection;
            query.Dispose();
            connection?.Dispose();
        }
    }
}
