using Jumpgate.Gateway.Store.Sql;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>The store in one SQLite file: its schema brought up to date, and the store parts over it.</summary>
internal static class SqliteStore
{
    /// <summary>Opens (creating it, mode 0600, if missing) and migrates the store at <paramref name="path"/>.</summary>
    public static GatewayStores Open(string path)
    {
        var source = new SqliteFileSource(path);
        SqliteSchema.Apply(source);
        // Each question reads the generation's row, so a write needs to tell it nothing.
        return SqlStores.Create(new SqlDatabase(source), new SqliteGeneration(source));
    }
}
