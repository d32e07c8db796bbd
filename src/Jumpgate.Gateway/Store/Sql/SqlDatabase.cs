using System.Data.Common;
using System.Globalization;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>
/// The one database every store part works on, whichever backend holds it. The parts send the same
/// SQL to both: SQLite (3.24 and later) takes PostgreSQL's words for what they need (<c>ON CONFLICT
/// DO NOTHING</c>, <c>TRUE</c>, double-quoted <c>"user"</c> and <c>"end"</c>, <c>@name</c>
/// parameters), booleans read alike through ADO.NET, and text is put in order in memory, where
/// ordinal order is SQLite's and PostgreSQL's <c>COLLATE "C"</c> order alike. What still differs is
/// given here by the backend: <paramref name="source"/> hands out connections configured as it
/// needs (SQLite's pragmas, Npgsql's pool), and <paramref name="wrote"/> is told after every
/// committed write to a table a cache depends on, where the backend's generation needs telling
/// (PostgreSQL's kept value; SQLite's generation reads its row on every question and needs nothing).
/// Times are stored as round-trip UTC text on both: it keeps a time to the tick and sorts as it should.
/// Every connection opened tells <paramref name="health"/> whether the database answered.
/// </summary>
internal sealed class SqlDatabase(DbDataSource source, StoreHealth health, Action? wrote = null) : IDisposable
{
    private readonly Action _wrote = wrote ?? (static () => { });

    public StoreHealth Health => health;

    public DbConnection Open()
    {
        try
        {
            var opening = System.Diagnostics.Stopwatch.GetTimestamp();
            var connection = source.OpenConnection();
            health.Reached();
            health.Time(connection, opening);
            return connection;
        }
        catch (Exception e) when (StoreHealth.IsOutage(e))
        {
            health.Lost(e);
            throw;
        }
    }

    /// <summary>Called after a committed write to principals, tokens, groups, rules, web sessions or exposures.</summary>
    public void Wrote() => _wrote();

    public void Dispose() => source.Dispose();

    public static void Execute(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static DbCommand Command(DbConnection connection, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            Add(command.Parameters, command.CreateParameter(), name, value);
        }
        return command;
    }

    public static void Add(DbParameterCollection parameters, DbParameter parameter, string name, object? value)
    {
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        parameters.Add(parameter);
    }

    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public static string? Text(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    public static DateTimeOffset? Time(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : Parse(reader.GetString(column));
}
