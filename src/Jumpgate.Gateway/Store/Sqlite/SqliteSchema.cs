using System.Data.Common;
using System.Text;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Store.Sql;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// Every table of the store and every migration of a file an earlier gateway made, in one place.
/// Running it again on a current file changes nothing, so every process that opens the store
/// (the gateway, each admin command) runs it.
/// </summary>
internal static class SqliteSchema
{
    /// <summary>The tables whose every write moves the generation: everything the gateway keeps answers from.</summary>
    private static readonly string[] CachedTables = ["principals", "tokens", "rules", "user_groups", "web_sessions", "exposures"];

    public static void Apply(SqliteFileSource source)
    {
        source.CreatePrivate();
        using var connection = source.OpenConnection();
        var fresh = !TableExists(connection, "rules");
        Execute(connection, "PRAGMA journal_mode = WAL;" + PrincipalsTable("principals") + """
            CREATE TABLE IF NOT EXISTS tokens (
                id TEXT PRIMARY KEY, kind TEXT NOT NULL, principal TEXT NOT NULL, secret_sha256 BLOB NOT NULL,
                created TEXT NOT NULL, expires TEXT, revoked INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS hosts (
                name TEXT NOT NULL, agent TEXT NOT NULL, services TEXT NOT NULL, last_seen TEXT NOT NULL,
                PRIMARY KEY (name, agent));
            CREATE TABLE IF NOT EXISTS user_groups (user TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (user, grp));
            CREATE TABLE IF NOT EXISTS rules (
                subject TEXT NOT NULL, host_pattern TEXT NOT NULL, service TEXT NOT NULL, created TEXT NOT NULL,
                PRIMARY KEY (subject, host_pattern, service));
            CREATE TABLE IF NOT EXISTS audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, event TEXT NOT NULL, outcome TEXT NOT NULL,
                user TEXT, agent TEXT, source TEXT, host TEXT, service TEXT, start TEXT, end TEXT,
                bytes_up INTEGER, bytes_down INTEGER, reason TEXT, admin TEXT);
            CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
            """);
        AllowAdminKind(connection);
        if (fresh)
        {
            // A new store (from `gateway init`, or one made before rules existed) lets every user
            // reach everything, as the core did; revoking this rule makes access deny-by-default.
            SqlRuleStore.Insert(connection, AccessRule.Everyone, "*", SqlRuleStore.AllServices, DateTimeOffset.UtcNow);
        }
        if (!ColumnExists(connection, "audit", "admin"))
        {
            // A store made before admin events existed.
            Execute(connection, "ALTER TABLE audit ADD COLUMN admin TEXT");
        }
        CreateWebSessions(connection);
        Execute(connection, SignInCodesTable);
        Execute(connection, ExposuresTable);
        Execute(connection, HostKeysTable);
        Execute(connection, OidcRefreshTable);
        CreateGeneration(connection);
    }

    /// <summary>One-time sign-in codes by their hash (<see cref="SqlSignInCodeStore"/>); no cache reads them, so no trigger moves the generation.</summary>
    private const string SignInCodesTable = """
        CREATE TABLE IF NOT EXISTS signin_codes (
            code_sha256 BLOB PRIMARY KEY, user TEXT NOT NULL, token_id TEXT NOT NULL, signin TEXT NOT NULL,
            label TEXT NOT NULL, expires TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS signin_codes_expires ON signin_codes (expires);
        """;

    /// <summary>The exposed ports (<see cref="SqlExposureStore"/>); a running gateway opens and closes listeners as its generation moves.</summary>
    private const string ExposuresTable = """
        CREATE TABLE IF NOT EXISTS exposures (
            name TEXT PRIMARY KEY, host TEXT NOT NULL, service TEXT NOT NULL, port INTEGER NOT NULL UNIQUE,
            allow TEXT NOT NULL, created TEXT NOT NULL);
        """;

    /// <summary>The SSH host keys the gateway vouches for (<see cref="SqlHostKeyStore"/>); read afresh for each ssh, so no trigger moves the generation.</summary>
    internal const string HostKeysTable = """
        CREATE TABLE IF NOT EXISTS host_keys (
            host TEXT PRIMARY KEY, keys TEXT NOT NULL, agent TEXT NOT NULL, recorded TEXT NOT NULL,
            pending TEXT, pending_agent TEXT, pending_since TEXT);
        """;

    /// <summary>
    /// The browser sign-ins through the identity provider that the gateway keeps asking about
    /// (<see cref="SqlOidcRefreshStore"/>), so a restart does not forget them; the refresh token is
    /// sealed with a key derived from the client secret, which the store does not hold.
    /// </summary>
    internal const string OidcRefreshTable = """
        CREATE TABLE IF NOT EXISTS oidc_refresh (
            token_id TEXT PRIMARY KEY, "user" TEXT NOT NULL, subject TEXT NOT NULL, groups TEXT NOT NULL,
            sealed TEXT NOT NULL, updated TEXT NOT NULL);
        """;

    private static string PrincipalsTable(string name) => $"""

        CREATE TABLE IF NOT EXISTS {name} (
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('user', 'agent', 'admin')),
            host_patterns TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            PRIMARY KEY (kind, name));

        """;

    /// <summary>
    /// A store made before admins existed has a CHECK that allows only users and agents; SQLite
    /// cannot alter a CHECK, so the table is rebuilt once, inside a transaction, rows kept.
    /// </summary>
    private static void AllowAdminKind(DbConnection connection)
    {
        using var command = Command(connection, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'principals'");
        if (command.ExecuteScalar() is not string sql || sql.Contains("'admin'", StringComparison.Ordinal))
        {
            return;
        }
        using var transaction = connection.BeginTransaction();
        Execute(connection, PrincipalsTable("principals_new") + """
            INSERT INTO principals_new (name, kind, host_patterns, disabled, created) SELECT name, kind, host_patterns, disabled, created FROM principals;
            DROP TABLE principals;
            ALTER TABLE principals_new RENAME TO principals;
            """);
        transaction.Commit();
    }

    private static void CreateWebSessions(DbConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS web_sessions (
                id TEXT PRIMARY KEY, secret_sha256 BLOB NOT NULL, user TEXT NOT NULL, token_id TEXT NOT NULL,
                created TEXT NOT NULL, expires TEXT NOT NULL, host TEXT NOT NULL, signin TEXT NOT NULL);
            """);
        if (!ColumnExists(connection, "web_sessions", "host"))
        {
            // A store made before sessions were bound to a host and a sign-in: each of its sessions
            // would open every subdomain and survive sign-out, so they end here; browsers sign in again.
            Execute(connection, """
                DELETE FROM web_sessions;
                ALTER TABLE web_sessions ADD COLUMN host TEXT NOT NULL DEFAULT '';
                ALTER TABLE web_sessions ADD COLUMN signin TEXT NOT NULL DEFAULT '';
                """);
        }
        Execute(connection, "CREATE INDEX IF NOT EXISTS web_sessions_signin ON web_sessions (signin);");
        transaction.Commit();
    }

    /// <summary>
    /// The generation is a row that triggers bump on every write to <see cref="CachedTables"/>, so
    /// a write counts whichever process makes it (the table keeps its first name, access_generation,
    /// so that stores made before sessions counted need no migration).
    /// </summary>
    private static void CreateGeneration(DbConnection connection)
    {
        var sql = new StringBuilder("""
            CREATE TABLE IF NOT EXISTS access_generation (id INTEGER PRIMARY KEY CHECK (id = 0), value INTEGER NOT NULL);
            INSERT OR IGNORE INTO access_generation (id, value) VALUES (0, 0);

            """);
        foreach (var table in CachedTables)
        {
            foreach (var change in new[] { "INSERT", "UPDATE", "DELETE" })
            {
                sql.Append($"CREATE TRIGGER IF NOT EXISTS {table}_{change.ToLowerInvariant()}_generation AFTER {change} ON {table} ")
                    .Append("BEGIN UPDATE access_generation SET value = value + 1 WHERE id = 0; END;\n");
            }
        }
        Execute(connection, sql.ToString());
    }

    private static bool TableExists(DbConnection connection, string table)
    {
        using var command = Command(connection, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = @name", ("@name", table));
        return command.ExecuteScalar() is not null;
    }

    private static bool ColumnExists(DbConnection connection, string table, string column)
    {
        using var command = Command(connection, "SELECT 1 FROM pragma_table_info(@table) WHERE name = @column", ("@table", table), ("@column", column));
        return command.ExecuteScalar() is not null;
    }
}
