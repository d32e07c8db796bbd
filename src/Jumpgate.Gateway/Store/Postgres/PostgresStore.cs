namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>The store in a PostgreSQL database that several gateways share: its schema brought up to date, and one part per concern over it.</summary>
internal static class PostgresStore
{
    /// <summary>
    /// Connects, migrates, and starts listening for the generation. A database that cannot be
    /// reached or refuses the login throws <see cref="InvalidOperationException"/> naming the URL
    /// (password masked) with the database's own message.
    /// </summary>
    public static GatewayStores Open(PostgresUrl url, TimeSpan recheckInterval)
    {
        var database = new PostgresDatabase(url);
        try
        {
            PostgresSchema.Apply(database);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or System.Net.Sockets.SocketException)
        {
            database.Dispose();
            // The database's own words; Npgsql puts the socket's reason (connection refused, no such host) inside.
            var reason = e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;
            throw new InvalidOperationException($"cannot open the store {url}: {reason}", e);
        }
        var generation = new PostgresGeneration(database, recheckInterval, TimeProvider.System);
        return new GatewayStores(
            new PostgresPrincipalStore(database),
            new PostgresTokenStore(database),
            new PostgresRuleStore(database),
            new PostgresHostStore(database),
            new PostgresAuditStore(database),
            new PostgresWebSessionStore(database),
            generation,
            new Kept(generation, database));
    }

    /// <summary>The listener's connection and the pool.</summary>
    private sealed class Kept(PostgresGeneration generation, PostgresDatabase database) : IDisposable
    {
        public void Dispose()
        {
            generation.Dispose();
            database.Dispose();
        }
    }
}
