using System.Globalization;
using Jumpgate.Core.Security;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// The one SQLite file next to gateway.yaml: how a connection to it is opened and configured, and
/// how values are written to it. Admin commands write the file from another process while the
/// gateway runs, so every part reads it afresh or through the generation (WAL keeps reads cheap,
/// and a reader never waits for a writer).
/// </summary>
internal sealed class SqliteDatabase
{
    private readonly string _connectionString;

    public SqliteDatabase(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
    }

    public string Path { get; }

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

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // synchronous = NORMAL: with WAL, a commit survives a crash of the gateway (not of the machine) without an fsync;
        // FULL cost an fsync per audit batch, about one per stream event (docs/decisions.md).
        Execute(connection, "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
        return connection;
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    /// <summary>Times are stored as round-trip UTC text, which sorts as it should.</summary>
    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public static string? Text(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    public static DateTimeOffset? Time(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : Parse(reader.GetString(column));
}
