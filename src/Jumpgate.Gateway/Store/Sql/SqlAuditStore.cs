using System.Data.Common;
using Jumpgate.Core.Audit;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>
/// The <c>audit</c> table. The audit writer appends once per batch, on a connection kept for it
/// with its commands made once: opening, configuring and parsing them afresh was most of SQLite's
/// CPU per stream (two events each). Where the provider batches (Npgsql), the inserts and the prune
/// go to the database in one round trip; where it does not (SQLite, in the process, with no round
/// trip to save), the one prepared insert runs once per event.
/// </summary>
internal sealed class SqlAuditStore(SqlDatabase database) : IAuditStore, IDisposable
{
    private const string Insert = """
        INSERT INTO audit (time, event, outcome, "user", agent, source, host, service, start, "end", bytes_up, bytes_down, reason, admin)
        VALUES (@time, @event, @outcome, @user, @agent, @source, @host, @service, @start, @end, @up, @down, @reason, @admin)
        """;

    /// <summary>The primary key's index answers max(id) and the range: nothing to drop costs one probe.</summary>
    private const string Prune = "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - @keep";

    private static readonly string[] Parameters = ["@time", "@event", "@outcome", "@user", "@agent", "@source", "@host", "@service", "@start", "@end", "@up", "@down", "@reason", "@admin"];

    private readonly Lock _lock = new();
    private Writer? _writer;

    public void Append(IReadOnlyList<AuditEvent> events)
    {
        lock (_lock)
        {
            try
            {
                _writer ??= new Writer(database.Open());
                _writer.Append(events);
            }
            catch
            {
                // The connection may be what failed (a database restarted): the next batch opens another.
                _writer?.Dispose();
                _writer = null;
                throw;
            }
        }
    }

    public IReadOnlyList<AuditEvent> Query(AuditQuery query)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        var where = new List<string>();
        void Filter(string column, string name, object? value)
        {
            if (value is not null)
            {
                where.Add(name == "@since" ? "time >= @since" : $"{column} = {name}");
                Add(command.Parameters, command.CreateParameter(), name, value);
            }
        }
        Filter("\"user\"", "@user", query.User);
        Filter("host", "@host", query.Host);
        Filter("event", "@event", query.Event);
        Filter("time", "@since", query.Since is { } since ? Format(since) : null);
        command.CommandText = $"""
            SELECT time, event, outcome, "user", agent, source, host, service, start, "end", bytes_up, bytes_down, reason, admin FROM (
                SELECT * FROM audit {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))}
                ORDER BY id DESC LIMIT @limit) AS newest
            ORDER BY id
            """;
        Add(command.Parameters, command.CreateParameter(), "@limit", query.Limit);
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
            _writer?.Dispose();
            _writer = null;
        }
    }

    private static object?[] Values(AuditEvent e) =>
        [Format(e.Time), e.Event, e.Outcome, e.User, e.Agent, e.Source, e.Host, e.Service,
            e.Start is { } start ? Format(start) : null, e.End is { } end ? Format(end) : null, e.BytesUp, e.BytesDown, e.Reason, e.Admin];

    /// <summary>The kept connection and, where the provider does not batch, the insert and the prune prepared on it.</summary>
    private sealed class Writer : IDisposable
    {
        private readonly DbConnection _connection;
        private readonly (DbCommand Insert, DbCommand Prune)? _prepared;

        public Writer(DbConnection connection)
        {
            _connection = connection;
            if (connection.CanCreateBatch)
            {
                return;
            }
            var insert = Command(connection, Insert);
            foreach (var name in Parameters)
            {
                Add(insert.Parameters, insert.CreateParameter(), name, null);
            }
            var prune = Command(connection, Prune, ("@keep", IAuditStore.MaxRows));
            _prepared = (insert, prune);
            try
            {
                insert.Prepare();
                prune.Prepare();
            }
            catch
            {
                // Nobody holds this writer yet to let go of its connection.
                Dispose();
                throw;
            }
        }

        /// <summary>Appends a batch and prunes, in one transaction.</summary>
        public void Append(IReadOnlyList<AuditEvent> events)
        {
            using var transaction = _connection.BeginTransaction();
            if (_prepared is var (insert, prune))
            {
                insert.Transaction = transaction;
                prune.Transaction = transaction;
                foreach (var e in events)
                {
                    var values = Values(e);
                    for (var i = 0; i < values.Length; i++)
                    {
                        insert.Parameters[i].Value = values[i] ?? DBNull.Value;
                    }
                    insert.ExecuteNonQuery();
                }
                prune.ExecuteNonQuery();
            }
            else
            {
                Batched(transaction, events);
            }
            transaction.Commit();
        }

        public void Dispose()
        {
            if (_prepared is var (insert, prune))
            {
                insert.Dispose();
                prune.Dispose();
            }
            _connection.Dispose();
        }

        private void Batched(DbTransaction transaction, IReadOnlyList<AuditEvent> events)
        {
            using var batch = _connection.CreateBatch();
            batch.Transaction = transaction;
            foreach (var e in events)
            {
                var insert = batch.CreateBatchCommand();
                insert.CommandText = Insert;
                var values = Values(e);
                for (var i = 0; i < values.Length; i++)
                {
                    Add(insert.Parameters, insert.CreateParameter(), Parameters[i], values[i]);
                }
                batch.BatchCommands.Add(insert);
            }
            var prune = batch.CreateBatchCommand();
            prune.CommandText = Prune;
            Add(prune.Parameters, prune.CreateParameter(), "@keep", IAuditStore.MaxRows);
            batch.BatchCommands.Add(prune);
            batch.ExecuteNonQuery();
        }
    }
}
