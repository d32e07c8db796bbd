using System.Globalization;
using Npgsql;

namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>
/// One PostgreSQL database that several gateways share: a pooled data source, and how values are
/// written to it. Times are stored as the same round-trip UTC text as in SQLite: it keeps a time to
/// the tick (timestamptz keeps microseconds) and sorts as it should.
/// </summary>
internal sealed class PostgresDatabase : IDisposable
{
    private readonly NpgsqlDataSource _source;
    private readonly NpgsqlDataSource _listener;

    public PostgresDatabase(PostgresUrl url)
    {
        Url = url;
        // The slim builder: only the plain types the store uses, which keeps the Native AOT binary small and trimmable.
        _source = new NpgsqlSlimDataSourceBuilder(url.ConnectionString).Build();
        // The listener's connection is never pooled (returning it would reset its LISTEN) and
        // sends a keepalive, so a database that vanished without a word is noticed.
        _listener = new NpgsqlSlimDataSourceBuilder(new NpgsqlConnectionStringBuilder(url.ConnectionString) { Pooling = false, KeepAlive = 10 }.ConnectionString).Build();
    }

    public PostgresUrl Url { get; }

    /// <summary>Called after every committed write to a table a cache depends on, so this process sees its own write at once.</summary>
    public Action Wrote { get; set; } = () => { };

    public NpgsqlConnection Open() => _source.OpenConnection();

    /// <summary>A connection of its own for LISTEN, outside the pool.</summary>
    public ValueTask<NpgsqlConnection> OpenListenerAsync(CancellationToken cancellationToken) => _listener.OpenConnectionAsync(cancellationToken);

    public void Dispose()
    {
        _listener.Dispose();
        _source.Dispose();
    }

    public static void Execute(NpgsqlConnection connection, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    public static NpgsqlCommand Command(NpgsqlConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public static string? Text(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    public static DateTimeOffset? Time(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : Parse(reader.GetString(column));
}
