using Jumpgate.Core.Audit;
using Microsoft.Data.Sqlite;
using static Jumpgate.Gateway.Store.Sqlite.SqliteDatabase;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// The <c>audit</c> table. The audit writer appends once per batch, so this keeps a connection
/// with the insert and the prune prepared: opening, configuring and parsing them afresh was most
/// of the store's CPU per stream (two events each).
/// </summary>
internal sealed class SqliteAuditStore(SqliteDatabase database) : IAuditStore, IDisposable
{
    private static readonly string[] Parameters = ["$time", "$event", "$outcome", "$user", "$agent", "$source", "$host", "$service", "$start", "$end", "$up", "$down", "$reason", "$admin"];

    private readonly Lock _lock = new();
    private (SqliteCommand Insert, SqliteCommand Prune)? _commands;

    public void Append(IReadOnlyList<AuditEvent> events)
    {
        lock (_lock)
        {
            var (insert, prune) = _commands ??= Prepare();
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

    public IReadOnlyList<AuditEvent> Query(AuditQuery query)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        var where = new List<string>();
        void Filter(string column, object? value)
        {
            if (value is not null)
            {
                where.Add(column == "time" ? "time >= $time" : $"{column} = ${column}");
                command.Parameters.AddWithValue("$" + column, value);
            }
        }
        Filter("user", query.User);
        Filter("host", query.Host);
        Filter("event", query.Event);
        Filter("time", query.Since is { } since ? Format(since) : null);
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
                Start = Time(reader, 8),
                End = Time(reader, 9),
                BytesUp = reader.IsDBNull(10) ? null : reader.GetInt64(10),
                BytesDown = reader.IsDBNull(11) ? null : reader.GetInt64(11),
                Reason = Text(reader, 12),
                Admin = Text(reader, 13),
            });
        }
        return events;
    }

    /// <summary>Lets go of the connection kept for appending.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_commands is var (insert, prune))
            {
                var connection = insert.Connection;
                insert.Dispose();
                prune.Dispose();
                connection?.Dispose();
                _commands = null;
            }
        }
    }

    private (SqliteCommand Insert, SqliteCommand Prune) Prepare()
    {
        var connection = database.Open();
        var insert = Command(connection, """
            INSERT INTO audit (time, event, outcome, user, agent, source, host, service, start, end, bytes_up, bytes_down, reason, admin)
            VALUES ($time, $event, $outcome, $user, $agent, $source, $host, $service, $start, $end, $up, $down, $reason, $admin)
            """);
        foreach (var name in Parameters)
        {
            insert.Parameters.Add(name, SqliteType.Text);
        }
        // An index range on the primary key: nothing to do costs one probe.
        var prune = Command(connection, "DELETE FROM audit WHERE id <= last_insert_rowid() - $keep", ("$keep", IAuditStore.MaxRows));
        return (insert, prune);
    }
}
