namespace Jumpgate.Gateway.Store.Sql;

/// <summary>Every store part over one database, whichever backend holds it.</summary>
internal static class SqlStores
{
    /// <summary>
    /// The parts over <paramref name="database"/>, with the backend's own <paramref name="generation"/>.
    /// Disposing them lets go of the audit's connection, then the generation's, then the database.
    /// </summary>
    public static GatewayStores Create<TGeneration>(SqlDatabase database, TGeneration generation)
        where TGeneration : IStoreGeneration, IDisposable
    {
        var audit = new SqlAuditStore(database);
        return new GatewayStores(
            new SqlPrincipalStore(database),
            new SqlTokenStore(database),
            new SqlRuleStore(database),
            new SqlHostStore(database),
            audit,
            new SqlWebSessionStore(database),
            new SqlSignInCodeStore(database),
            new SqlExposureStore(database),
            new SqlHostKeyStore(database),
            new SqlOidcRefreshStore(database),
            generation,
            new Kept(audit, generation, database))
        {
            Health = database.Health,
        };
    }

    private sealed class Kept(SqlAuditStore audit, IDisposable generation, SqlDatabase database) : IDisposable
    {
        public void Dispose()
        {
            audit.Dispose();
            generation.Dispose();
            database.Dispose();
        }
    }
}
