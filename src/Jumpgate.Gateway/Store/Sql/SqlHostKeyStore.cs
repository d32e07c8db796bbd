using System.Data.Common;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>host_keys</c> table: one row per host, its keys one per line.</summary>
internal sealed class SqlHostKeyStore(SqlDatabase database) : IHostKeyStore
{
    private const string Columns = "host, keys, agent, recorded, pending, pending_agent, pending_since";

    public HostKeyRecord? Find(string host)
    {
        using var connection = database.Open();
        return Read(connection, host).FirstOrDefault();
    }

    public bool RecordFirst(string host, IReadOnlyList<string> keys, string agent, DateTimeOffset now)
    {
        using var connection = database.Open();
        // ON CONFLICT DO NOTHING: two gateways given the same host's keys at once record one of them.
        using var insert = Command(connection, "INSERT INTO host_keys (host, keys, agent, recorded) VALUES (@host, @keys, @agent, @now) ON CONFLICT DO NOTHING",
            ("@host", host), ("@keys", Join(keys)), ("@agent", agent), ("@now", Format(now)));
        return insert.ExecuteNonQuery() > 0;
    }

    public void SetPending(string host, IReadOnlyList<string>? keys, string? agent, DateTimeOffset now)
    {
        using var connection = database.Open();
        using var update = Command(connection, "UPDATE host_keys SET pending = @keys, pending_agent = @agent, pending_since = @now WHERE host = @host",
            ("@host", host), ("@keys", keys is null ? null : Join(keys)), ("@agent", keys is null ? null : agent), ("@now", keys is null ? null : Format(now)));
        update.ExecuteNonQuery();
    }

    public HostKeyRecord? AcceptPending(string host, DateTimeOffset now)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        using (var update = Command(connection, """
            UPDATE host_keys SET keys = pending, agent = pending_agent, recorded = @now, pending = NULL, pending_agent = NULL, pending_since = NULL
            WHERE host = @host AND pending IS NOT NULL
            """, ("@host", host), ("@now", Format(now))))
        {
            if (update.ExecuteNonQuery() == 0)
            {
                return null;
            }
        }
        var accepted = Read(connection, host).Single();
        transaction.Commit();
        return accepted;
    }

    public IReadOnlyList<HostKeyRecord> List()
    {
        using var connection = database.Open();
        return [.. Read(connection, null).OrderBy(r => r.Host, StringComparer.Ordinal)];
    }

    private static List<HostKeyRecord> Read(DbConnection connection, string? host)
    {
        using var command = host is null
            ? Command(connection, $"SELECT {Columns} FROM host_keys")
            : Command(connection, $"SELECT {Columns} FROM host_keys WHERE host = @host", ("@host", host));
        using var reader = command.ExecuteReader();
        var rows = new List<HostKeyRecord>();
        while (reader.Read())
        {
            rows.Add(new HostKeyRecord(reader.GetString(0), Split(reader.GetString(1)), reader.GetString(2), Parse(reader.GetString(3)))
            {
                Pending = reader.IsDBNull(4) ? null : Split(reader.GetString(4)),
                PendingAgent = reader.IsDBNull(5) ? null : reader.GetString(5),
                PendingSince = reader.IsDBNull(6) ? null : Parse(reader.GetString(6)),
            });
        }
        return rows;
    }

    private static string Join(IReadOnlyList<string> keys) => string.Join('\n', keys);

    private static string[] Split(string keys) => keys.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
