using System.Text.Json;
using System.Text.Json.Serialization;
using Jumpgate.Core.Protocol;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>hosts</c> table: one row per host and agent, its services as JSON.</summary>
internal sealed class SqlHostStore(SqlDatabase database) : IHostStore
{
    public void Replace(string agent, IReadOnlyList<HostAnnouncement> hosts, DateTimeOffset now)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        using (var delete = Command(connection, "DELETE FROM hosts WHERE agent = @agent", ("@agent", agent)))
        {
            delete.ExecuteNonQuery();
        }
        foreach (var host in hosts)
        {
            var services = JsonSerializer.Serialize<IReadOnlyList<ServiceAnnouncement>>([.. host.Services.Select(s => s with { Token = null })], HostJson.Default.IReadOnlyListServiceAnnouncement);
            using var insert = Command(connection, "INSERT INTO hosts (name, agent, services, last_seen) VALUES (@name, @agent, @services, @seen)",
                ("@name", host.Name), ("@agent", agent), ("@services", services), ("@seen", Format(now)));
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public void MarkSeen(string agent, DateTimeOffset now)
    {
        using var connection = database.Open();
        using var command = Command(connection, "UPDATE hosts SET last_seen = @seen WHERE agent = @agent", ("@seen", Format(now)), ("@agent", agent));
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<KnownHost> List(string? name = null)
    {
        using var connection = database.Open();
        using var command = name is null
            ? Command(connection, "SELECT name, agent, services, last_seen FROM hosts")
            : Command(connection, "SELECT name, agent, services, last_seen FROM hosts WHERE name = @name ORDER BY last_seen DESC", ("@name", name));
        using var reader = command.ExecuteReader();
        var hosts = new List<KnownHost>();
        while (reader.Read())
        {
            var services = JsonSerializer.Deserialize(reader.GetString(2), HostJson.Default.IReadOnlyListServiceAnnouncement) ?? [];
            hosts.Add(new KnownHost(reader.GetString(0), reader.GetString(1), services, Parse(reader.GetString(3))));
        }
        return name is null ? [.. hosts.OrderBy(h => h.Name, StringComparer.Ordinal).ThenBy(h => h.Agent, StringComparer.Ordinal)] : hosts;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(IReadOnlyList<ServiceAnnouncement>))]
internal sealed partial class HostJson : JsonSerializerContext;
