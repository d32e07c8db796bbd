using Jumpgate.Gateway.Store.Sql;
using Npgsql;

namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>The store in a PostgreSQL database that several gateways share: its schema brought up to date, and the store parts over it.</summary>
internal static class PostgresStore
{
    /// <summary>
    /// Connects, migrates, and starts listening for the generation. A database that cannot be
    /// reached or refuses the login throws <see cref="InvalidOperationException"/> naming the URL
    /// (password masked) with the database's own message.
    /// </summary>
    public static GatewayStores Open(PostgresUrl url, TimeSpan recheckInterval)
    {
        // The slim builder: only the plain types the store uses, which keeps the Native AOT binary small and trimmable.
        var pool = new NpgsqlSlimDataSourceBuilder(url.ConnectionString).Build();
        try
        {
            PostgresSchema.Apply(pool, url);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or System.Net.Sockets.SocketException)
        {
            pool.Dispose();
            // The database's own words; Npgsql puts the socket's reason (connection refused, no such host) inside.
            var reason = e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;
            throw new InvalidOperationException($"cannot open the store {url}: {reason}", e);
        }
        var health = new StoreHealth(TimeProvider.System, pool.Clear);
        var generation = new PostgresGeneration(pool, url, recheckInterval, health, TimeProvider.System);
        // The generation keeps its value in memory: this process's own writes must tell it to read the row again.
        return SqlStores.Create(new SqlDatabase(pool, health, generation.MarkStale), generation);
    }
}
