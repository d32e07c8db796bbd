using Jumpgate.Gateway.Store.Sql;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>The store in one SQLite file: its schema brought up to date, and the store parts over it.</summary>
internal static class SqliteStore
{
    /// <summary>
    /// Opens (creating it, mode 0600, if missing) and migrates the store at <paramref name="path"/>.
    /// <paramref name="recheck"/> bounds how late a write that no Jumpgate process counted is seen (2 s when not given).
    /// </summary>
    public static GatewayStores Open(string path, TimeSpan? recheck = null)
    {
        var source = new SqliteFileSource(path);
        SqliteSchema.Apply(source);
        var generation = new SqliteGeneration(source, recheck ?? TimeSpan.FromSeconds(2), TimeProvider.System);
        return SqlStores.Create(new SqlDatabase(source, new StoreHealth(TimeProvider.System), generation.Wrote), generation);
    }
}
