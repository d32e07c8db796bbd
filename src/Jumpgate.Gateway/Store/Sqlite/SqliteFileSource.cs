using System.Data.Common;
using Jumpgate.Core.Security;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// The one SQLite file next to gateway.yaml, as a data source: every connection it opens is
/// configured for the store. Admin commands write the file from another process while the gateway
/// runs, so every part reads it afresh or through the generation (WAL keeps reads cheap, and a
/// reader never waits for a writer).
/// </summary>
internal sealed class SqliteFileSource : DbDataSource
{
    private readonly string _connectionString;

    public SqliteFileSource(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
    }

    public string Path { get; }

    public override string ConnectionString => _connectionString;

    /// <summary>
    /// Creates a missing store file with mode 0600 before SQLite opens it: SQLite would create it
    /// with the umask's mode (0644 as a rule), readable by every local user until the gateway's next
    /// start refused it. SQLite gives the -wal and -shm files the database file's mode.
    /// </summary>
    public void CreatePrivate()
    {
        try
        {
            PrivateFile.CreateNew(Path).Dispose();
        }
        catch (IOException) when (File.Exists(Path))
        {
            // The store exists already: its mode is the gateway's start-up check's business.
        }
    }

    /// <summary>A connection not yet opened, so not yet configured: open connections with <see cref="DbDataSource.OpenConnection"/>.</summary>
    protected override DbConnection CreateDbConnection() => new SqliteConnection(_connectionString);

    protected override DbConnection OpenDbConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var configure = connection.CreateCommand();
        // synchronous = NORMAL: with WAL, a commit survives a crash of the gateway (not of the machine) without an fsync;
        // FULL cost an fsync per audit batch, about one per stream event (docs/decisions.md).
        configure.CommandText = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";
        configure.ExecuteNonQuery();
        return connection;
    }

    /// <summary>Opening a SQLite file does no I/O worth waiting for: the same as <see cref="OpenDbConnection"/>.</summary>
    protected override ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken) => ValueTask.FromResult(OpenDbConnection());
}
