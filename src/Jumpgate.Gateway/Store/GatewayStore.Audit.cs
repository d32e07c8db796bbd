using Jumpgate.Core.Audit;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store;

/// <summary>What `jumpgate gateway audit` asks for: every filter is optional.</summary>
internal sealed record AuditQuery(string? User = null, string? Host = null, DateTimeOffset? Since = null, int Limit = 1000, string? Event = null);

/// <summary>The audit table: the same events as audit.jsonl, queryable, bounded to the newest <see cref="MaxAuditRows"/>.</summary>
internal sealed partial class GatewayStore
{
    /// <summary>A million events (a few hundred MiB at most); older ones remain in the rotated audit.jsonl files until those rotate out.</summary>
    public const long MaxAuditRows = 1_000_000;

    private static void InitializeAudit(SqliteConnection connection)
    {
        CreateAudit(connection);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM pragma_table_info('audit') WHERE name = 'admin'";
        if (command.ExecuteScalar() is null)
        {
            // A store made before admin events existed.
            Execute(connection, "ALTER TABLE audit ADD COLUMN admin TEXT");
        }
    }

    private static void CreateAudit(SqliteConnection connection) => Execute(connection, """
        CREATE TABLE IF NOT EXISTS audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            event TEXT NOT NULL,
            outcome TEXT NOT NULL,
            user TEXT,
            agent TEXT,
            source TEXT,
            host TEXT,
            service TEXT,
            start TEXT,
            end TEXT,
            bytes_up INTEGER,
            bytes_down INTEGER,
            reason TEXT,
            admin TEXT);
        CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
        """);

    private static readonly string[] AuditParameters = ["$time", "$event", "$outcome", "$user", "$agent", "$source", "$host", "$service", "$start", "$end", "$up", "$down", "$reason", "$admin"];

    private readonly Lock _auditLock = new();
    private (SqliteCommand Insert, SqliteCommand Prune)? _auditCommands;

    /// <summary>
    /// Appends a batch in one transaction. The audit writer calls this once per batch, so it keeps
    /// a connection with both statements prepared: opening, configuring and parsing them afresh
    /// was most of the store's CPU per stream (two events each).
    /// </summary>
    public void AppendAudit(IReadOnlyList<AuditEvent> events)
    {
        lock (_auditLock)
        {
            var (insert, prune) = _auditCommands ??= PrepareAuditCommands();
            using var transaction = insert.Connection!.BeginTransaction();
            insert.Transaction = transaction;
            prune.Transaction = transaction;
            foreach (var e in events)
            {
                object?[] values = [Format(e.Time), e.Event, e.Outcome, e.User, e.Agent, e.Source, e.Host, e.Service,
                    e.Start is { } start ? Format(start) : null, e.End is { } end ? Format(end) : null, e.BytesUp, e.BytesDown, e.Reason, e.Admin];
                for (var i = 0; i < values.Length; i++)
                {
                    insert.Parameters[i].Value = values[i] ?? DBNull.Value;
                }
                insert.ExecuteNonQuery();
            }
            prune.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    private (SqliteCommand Insert, SqliteCommand Prune) PrepareAuditCommands()
    {
        var connection = Open();
        var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO audit (time, event, outcome, user, agent, source, host, service, start, end, bytes_up, bytes_down, reason, admin)
            VALUES ($time, $event, $outcome, $user, $agent, $source, $host, $service, $start, $end, $up, $down, $reason, $admin)
            """;
        foreach (var name in AuditParameters)
        {
            insert.Parameters.Add(name, SqliteType.Text);
        }
        var prune = connection.CreateCommand();
        // An index range on the primary key: nothing to do costs one probe.
        prune.CommandText = "DELETE FROM audit WHERE id <= last_insert_rowid() - $keep";
        prune.Parameters.AddWithValue("$keep", MaxAuditRows);
        return (insert, prune);
    }

    private void DisposeAuditCommands()
    {
        lock (_auditLock)
        {
            if (_auditCommands is var (insert, prune))
            {
                var connection = insert.Connection;
                insert.Dispose();
                prune.Dispose();
                connection?.Dispose();
                _auditCommands = null;
            }
        }
    }

    /// <summary>The newest events that match, oldest first.</summary>
    public IReadOnlyList<AuditEvent> QueryAudit(AuditQuery query)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        var where = new List<string>();
        if (query.User is not null)
        {
            where.Add("user = $user");
            command.Parameters.AddWithValue("$user", query.User);
        }
        if (query.Host is not null)
        {
            where.Add("host = $host");
            command.Parameters.AddWithValue("$host", query.Host);
        }
        if (query.Event is not null)
        {
            where.Add("event = $event");
            command.Parameters.AddWithValue("$event", query.Event);
        }
        if (query.Since is { } since)
        {
            where.Add("time >= $since");
            command.Parameters.AddWithValue("$since", Format(since));
        }
        command.CommandText = $"""
            SELECT time, event, outcome, user, agent, source, host, service, start, end, bytes_up, bytes_down, reason, admin FROM (
                SELECT * FROM audit {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))}
                ORDER BY id DESC LIMIT $limit)
            ORDER BY id
            """;
        command.Parameters.AddWithValue("$limit", query.Limit);
        using var reader = command.ExecuteReader();
        var events = new List<AuditEvent>();
        while (reader.Read())
        {
            events.Add(new AuditEvent
            {
                Time = Parse(reader.GetString(0)),
                Event = reader.GetString(1),
                Outcome = reader.GetString(2),
                User = Text(reader, 3),
                Agent = Text(reader, 4),
                Source = Text(reader, 5),
                Host = Text(reader, 6),
                Service = Text(reader, 7),
                Start = Text(reader, 8) is { } start ? Parse(start) : null,
                End = Text(reader, 9) is { } end ? Parse(end) : null,
                BytesUp = reader.IsDBNull(10) ? null : reader.GetInt64(10),
                BytesDown = reader.IsDBNull(11) ? null : reader.GetInt64(11),
                Reason = Text(reader, 12),
                Admin = Text(reader, 13),
            });
        }
        return events;
    }

    private static string? Text(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);
}
