using Jumpgate.Core.Audit;
using Npgsql;
using static Jumpgate.Gateway.Store.Postgres.PostgresDatabase;

namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>
/// The <c>audit</c> table, shared by every gateway on the database. A batch goes in one round trip:
/// its inserts and the prune in one transaction of one <see cref="NpgsqlBatch"/>.
/// </summary>
internal sealed class PostgresAuditStore(PostgresDatabase database) : IAuditStore
{
    private const string Insert = """
        INSERT INTO audit (time, event, outcome, "user", agent, source, host, service, start, "end", bytes_up, bytes_down, reason, admin)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        """;

    public void Append(IReadOnlyList<AuditEvent> events)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var e in events)
        {
            var command = new NpgsqlBatchCommand(Insert);
            object?[] values = [Format(e.Time), e.Event, e.Outcome, e.User, e.Agent, e.Source, e.Host, e.Service,
                e.Start is { } start ? Format(start) : null, e.End is { } end ? Format(end) : null, e.BytesUp, e.BytesDown, e.Reason, e.Admin];
            foreach (var value in values)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
            }
            batch.BatchCommands.Add(command);
        }
        // The primary key's index answers max(id); nothing to drop costs one probe.
        var prune = new NpgsqlBatchCommand("DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - $1");
        prune.Parameters.Add(new NpgsqlParameter { Value = IAuditStore.MaxRows });
        batch.BatchCommands.Add(prune);
        batch.ExecuteNonQuery();
        transaction.Commit();
    }

    public IReadOnlyList<AuditEvent> Query(AuditQuery query)
    {
        using var connection = database.Open();
        using var command = new NpgsqlCommand { Connection = connection };
        var where = new List<string>();
        void Filter(string column, string name, object? value)
        {
            if (value is not null)
            {
                where.Add(name == "since" ? "time >= @since" : $"{column} = @{name}");
                command.Parameters.AddWithValue(name, value);
            }
        }
        Filter("\"user\"", "user", query.User);
        Filter("host", "host", query.Host);
        Filter("event", "event", query.Event);
        Filter("time", "since", query.Since is { } since ? Format(since) : null);
        command.CommandText = $"""
            SELECT time, event, outcome, "user", agent, source, host, service, start, "end", bytes_up, bytes_down, reason, admin FROM (
                SELECT * FROM audit {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))}
                ORDER BY id DESC LIMIT @limit) AS newest
            ORDER BY id
            """;
        command.Parameters.AddWithValue("limit", query.Limit);
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
}
