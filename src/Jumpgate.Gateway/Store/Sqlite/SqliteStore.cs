namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>The store in one SQLite file: its schema brought up to date, and one part per concern over it.</summary>
internal static class SqliteStore
{
    /// <summary>Opens (creating it, mode 0600, if missing) and migrates the store at <paramref name="path"/>.</summary>
    public static GatewayStores Open(string path)
    {
        var database = new SqliteDatabase(path);
        SqliteSchema.Apply(database);
        var audit = new SqliteAuditStore(database);
        var generation = new SqliteGeneration(database);
        return new GatewayStores(
            new SqlitePrincipalStore(database),
            new SqliteTokenStore(database),
            new SqliteRuleStore(database),
            new SqliteHostStore(database),
            audit,
            new SqliteWebSessionStore(database),
            generation,
            new Kept(audit, generation));
    }

    /// <summary>The parts that keep a connection open between calls.</summary>
    private sealed class Kept(SqliteAuditStore audit, SqliteGeneration generation) : IDisposable
    {
        public void Dispose()
        {
            audit.Dispose();
            generation.Dispose();
        }
    }
}
