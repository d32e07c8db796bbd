using Npgsql;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>
/// Gateways that share a store share one certificate: agents and users pin one fingerprint and
/// move between the gateways. The first gateway to start records its fingerprint in the store; a
/// gateway with another certificate is refused at start, before any agent or user could pin it.
/// </summary>
internal static class PostgresCertificate
{
    /// <summary>Records <paramref name="fingerprint"/> if the store has none, or throws <see cref="InvalidOperationException"/> if it holds another.</summary>
    public static void Claim(PostgresUrl url, string fingerprint, TimeProvider time)
    {
        using var source = new NpgsqlSlimDataSourceBuilder(url.ConnectionString).Build();
        using var connection = source.OpenConnection();
        using (var insert = Command(connection, "INSERT INTO gateway_certificate (id, fingerprint, recorded) VALUES (0, @fingerprint, @recorded) ON CONFLICT DO NOTHING",
            ("@fingerprint", fingerprint), ("@recorded", Format(time.GetUtcNow()))))
        {
            insert.ExecuteNonQuery();
        }
        using var read = Command(connection, "SELECT fingerprint, recorded FROM gateway_certificate WHERE id = 0");
        using var row = read.ExecuteReader();
        row.Read();
        var (recorded, since) = (row.GetString(0), row.GetString(1));
        if (!string.Equals(recorded, fingerprint, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"the store {url} belongs to gateways with certificate {recorded} (recorded {since}), and this gateway's certificate is {fingerprint}; "
                + "gateways that share a store must share one certificate, which agents and users pin: "
                + "copy gateway.crt and gateway.key from a gateway of this store (`jumpgate gateway init --certificate-from DIR` does it)");
        }
    }
}
