using Jumpgate.Gateway.Store.Postgres;
using Jumpgate.Gateway.Store.Sqlite;

namespace Jumpgate.Gateway.Store;

/// <summary>
/// Where gateway.yaml's <c>store:</c> points: a SQLite file (a path, the default gateway.db) or a
/// PostgreSQL database (<c>postgres://user:password@host:port/db</c>) that several gateways share.
/// </summary>
internal sealed record StoreLocation
{
    private StoreLocation(string? path, PostgresUrl? postgres)
    {
        Path = path;
        Postgres = postgres;
    }

    /// <summary>The SQLite file, or null when the store is PostgreSQL.</summary>
    public string? Path { get; }

    /// <summary>The PostgreSQL database, or null when the store is a SQLite file.</summary>
    public PostgresUrl? Postgres { get; }

    public static StoreLocation Sqlite(string path) => new(path, null);

    public static StoreLocation PostgreSql(PostgresUrl url) => new(null, url);

    /// <summary>True for text that names PostgreSQL rather than a file (<c>postgres://</c> or <c>postgresql://</c>).</summary>
    public static bool IsPostgres(string text) => PostgresUrl.HasScheme(text);

    /// <summary>Opens the store and brings its schema up to date. <paramref name="recheckInterval"/> bounds how late another gateway's change may be seen.</summary>
    public GatewayStores Open(TimeSpan recheckInterval) =>
        Postgres is { } url ? PostgresStore.Open(url, recheckInterval) : SqliteStore.Open(Path!, recheckInterval);

    /// <summary>The location as logs and errors may show it: a URL's password masked.</summary>
    public override string ToString() => Postgres?.ToString() ?? Path!;
}
