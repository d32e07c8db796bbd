using System.Net;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>exposures</c> table: one row per exposed port, its allowed sources as comma-separated CIDRs.</summary>
internal sealed class SqlExposureStore(SqlDatabase database) : IExposureStore
{
    public void Add(Exposure exposure)
    {
        using (var connection = database.Open())
        using (var transaction = connection.BeginTransaction())
        {
            foreach (var existing in Read(connection))
            {
                if (existing.Name == exposure.Name)
                {
                    throw new InvalidOperationException($"{exposure.Name} is exposed already (port {existing.Port}); `jumpgate gateway unexpose {exposure.Name}` removes it");
                }
                if (existing.Port == exposure.Port)
                {
                    throw new InvalidOperationException($"port {exposure.Port} is taken by {existing.Name}; choose another --port");
                }
            }
            using var insert = Command(connection, "INSERT INTO exposures (name, host, service, port, allow, created) VALUES (@name, @host, @service, @port, @allow, @created)",
                ("@name", exposure.Name), ("@host", exposure.Host), ("@service", exposure.Service), ("@port", exposure.Port),
                ("@allow", string.Join(',', exposure.Allow)), ("@created", Format(exposure.Created)));
            insert.ExecuteNonQuery();
            transaction.Commit();
        }
        database.Wrote();
    }

    public bool Remove(string name)
    {
        int removed;
        using (var connection = database.Open())
        using (var command = Command(connection, "DELETE FROM exposures WHERE name = @name", ("@name", name)))
        {
            removed = command.ExecuteNonQuery();
        }
        database.Wrote();
        return removed > 0;
    }

    public IReadOnlyList<Exposure> List()
    {
        using var connection = database.Open();
        return Read(connection);
    }

    private static List<Exposure> Read(System.Data.Common.DbConnection connection)
    {
        using var command = Command(connection, "SELECT name, host, service, port, allow, created FROM exposures");
        using var reader = command.ExecuteReader();
        var rows = new List<Exposure>();
        while (reader.Read())
        {
            rows.Add(new Exposure(reader.GetString(0), reader.GetString(1), reader.GetString(2), Convert.ToInt32(reader.GetValue(3), System.Globalization.CultureInfo.InvariantCulture),
                [.. reader.GetString(4).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(IPNetwork.Parse)], Parse(reader.GetString(5))));
        }
        rows.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return rows;
    }
}
