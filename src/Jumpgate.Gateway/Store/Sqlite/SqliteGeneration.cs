using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// Reads the generation row on every call: a prepared single-row read, a few microseconds in a
/// local file, and under WAL it never waits for a writer (not even for one holding the write
/// lock). So a write from any process applies to the very next question. Each read borrows a
/// connection with the statement prepared on it and gives it back, so concurrent requests read
/// side by side instead of queueing for one connection (at most one connection per thread that
/// reads at the same moment).
/// </summary>
internal sealed class SqliteGeneration(SqliteDatabase database) : IStoreGeneration, IDisposable
{
    private readonly ConcurrentBag<SqliteCommand> _idle = [];
    private volatile bool _disposed;

    public long Read()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_idle.TryTake(out var query))
        {
            query = SqliteDatabase.Command(database.Open(), "SELECT value FROM access_generation WHERE id = 0");
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

    /// <summary>Lets go of the connections kept for the read.</summary>
    public void Dispose()
    {
        _disposed = true;
        CloseIdle();
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
