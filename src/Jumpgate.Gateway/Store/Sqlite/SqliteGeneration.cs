using System.Data.Common;
using Jumpgate.Gateway.Store.Sql;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// Reads the generation row on every call: a prepared single-row read on a connection kept for
/// it, a few microseconds in a local file, and under WAL it never waits for a writer (not even for
/// one holding the write lock). So a write from any process applies to the very next question.
/// </summary>
internal sealed class SqliteGeneration(SqliteFileSource source) : IStoreGeneration, IDisposable
{
    private readonly Lock _lock = new();
    private DbCommand? _query;

    public long Read()
    {
        lock (_lock)
        {
            if (_query is null)
            {
                _query = SqlDatabase.Command(source.OpenConnection(), "SELECT value FROM access_generation WHERE id = 0");
                _query.Prepare();
            }
            return (long)_query.ExecuteScalar()!;
        }
    }

    /// <summary>Lets go of the connection kept for the read.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            var connection = _query?.Connection;
            _query?.Dispose();
            connection?.Dispose();
            _query = null;
        }
    }
}
