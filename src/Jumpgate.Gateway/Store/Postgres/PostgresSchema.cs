using System.Text;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Store.Sql;
using Npgsql;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>
/// Every table of the store, as numbered migrations recorded in <c>schema_version</c>. Several
/// gateways may start at once on one database, so the migrations run in one transaction under an
/// advisory lock: the first applies them, the others find them applied.
/// </summary>
internal static class PostgresSchema
{
    /// <summary>The NOTIFY channel the generation's trigger signals on; its payload is the new generation.</summary>
    public const string Channel = "jumpgate_generation";

    /// <summary>Any number, the same in every gateway: the key of the advisory lock that serialises migrations.</summary>
    private const long MigrationLock = 0x6a756d7067617465;

    /// <summary>The tables whose every write moves the generation: everything the gateway keeps answers from.</summary>
    private static readonly string[] CachedTables = ["principals", "tokens", "rules", "user_groups", "web_sessions"];

    /// <summary>Migration n brings a database from version n to n + 1; a new one is appended, never edited.</summary>
    private static readonly string[] Migrations = [Initial(), Certificate, SignInCodes, Exposures, HostKeys, OidcRefresh];

    /// <summary>The one certificate of the gateways that share the store (<see cref="PostgresCertificate"/>).</summary>
    private const string Certificate = """
        CREATE TABLE gateway_certificate (id INTEGER PRIMARY KEY CHECK (id = 0), fingerprint TEXT NOT NULL, recorded TEXT NOT NULL);
        """;

    /// <summary>
    /// One-time sign-in codes by their hash, so a code minted by one gateway is redeemed on any
    /// (<see cref="SqlSignInCodeStore"/>); no cache reads them, so no trigger moves the generation.
    /// </summary>
    private const string SignInCodes = """
        CREATE TABLE signin_codes (
            code_sha256 BYTEA PRIMARY KEY, "user" TEXT NOT NULL, token_id TEXT NOT NULL, signin TEXT NOT NULL,
            label TEXT NOT NULL, expires TEXT NOT NULL);
        CREATE INDEX signin_codes_expires ON signin_codes (expires);
        """;

    /// <summary>
    /// The exposed ports (<see cref="SqlExposureStore"/>): each gateway of the store opens them, and
    /// its trigger moves the generation so every gateway opens or closes a listener at once.
    /// </summary>
    private const string Exposures = """
        CREATE TABLE exposures (
            name TEXT PRIMARY KEY, host TEXT NOT NULL, service TEXT NOT NULL, port INTEGER NOT NULL UNIQUE,
            allow TEXT NOT NULL, created TEXT NOT NULL);
        CREATE TRIGGER exposures_generation AFTER INSERT OR UPDATE OR DELETE ON exposures
            FOR EACH ROW EXECUTE FUNCTION jumpgate_move_generation();
        """;

    /// <summary>The SSH host keys the gateway vouches for, as SQLite has them (<see cref="SqlHostKeyStore"/>).</summary>
    private const string HostKeys = Sqlite.SqliteSchema.HostKeysTable;

    /// <summary>The browser sign-ins the gateways keep asking the identity provider about, as SQLite has them (<see cref="SqlOidcRefreshStore"/>).</summary>
    private const string OidcRefresh = Sqlite.SqliteSchema.OidcRefreshTable;

    public static void Apply(NpgsqlDataSource source, PostgresUrl url)
    {
        using var connection = source.OpenConnection();
        using var transaction = connection.BeginTransaction();
        Execute(connection, $"""
            SELECT pg_advisory_xact_lock({MigrationLock});
            CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL);
            INSERT INTO schema_version (id, version) VALUES (0, 0) ON CONFLICT DO NOTHING;
            """);
        using var read = Command(connection, "SELECT version FROM schema_version WHERE id = 0");
        var version = (int)read.ExecuteScalar()!;
        if (version > Migrations.Length)
        {
            throw new InvalidOperationException($"the store {url} was made by a newer gateway (schema {version}, this one knows {Migrations.Length}); upgrade this gateway");
        }
        for (; version < Migrations.Length; version++)
        {
            Execute(connection, Migrations[version]);
            if (version == 0)
            {
                // A new store lets every user reach everything, as a new SQLite store does; revoking this rule makes access deny-by-default.
                SqlRuleStore.Insert(connection, AccessRule.Everyone, "*", SqlRuleStore.AllServices, DateTimeOffset.UtcNow);
            }
        }
        Execute(connection, $"UPDATE schema_version SET version = {Migrations.Length} WHERE id = 0");
        transaction.Commit();
    }

    /// <summary>
    /// The tables as the SQLite store has them, in PostgreSQL's words (user and end are quoted:
    /// both are reserved there). The generation is a row that a row trigger on every cached table
    /// moves, notifying <see cref="Channel"/> with the new value once the write commits.
    /// </summary>
    private static string Initial()
    {
        var sql = new StringBuilder($$"""
            CREATE TABLE principals (
                name TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('user', 'agent', 'admin')),
                host_patterns TEXT,
                disabled BOOLEAN NOT NULL DEFAULT FALSE,
                created TEXT NOT NULL,
                PRIMARY KEY (kind, name));
            CREATE TABLE tokens (
                id TEXT PRIMARY KEY, kind TEXT NOT NULL, principal TEXT NOT NULL, secret_sha256 BYTEA NOT NULL,
                created TEXT NOT NULL, expires TEXT, revoked BOOLEAN NOT NULL DEFAULT FALSE);
            CREATE TABLE hosts (
                name TEXT NOT NULL, agent TEXT NOT NULL, services TEXT NOT NULL, last_seen TEXT NOT NULL,
                PRIMARY KEY (name, agent));
            CREATE TABLE user_groups ("user" TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY ("user", grp));
            CREATE TABLE rules (
                subject TEXT NOT NULL, host_pattern TEXT NOT NULL, service TEXT NOT NULL, created TEXT NOT NULL,
                PRIMARY KEY (subject, host_pattern, service));
            CREATE TABLE audit (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time TEXT NOT NULL, event TEXT NOT NULL, outcome TEXT NOT NULL,
                "user" TEXT, agent TEXT, source TEXT, host TEXT, service TEXT, start TEXT, "end" TEXT,
                bytes_up BIGINT, bytes_down BIGINT, reason TEXT, admin TEXT);
            CREATE INDEX audit_time ON audit (time);
            CREATE TABLE web_sessions (
                id TEXT PRIMARY KEY, secret_sha256 BYTEA NOT NULL, "user" TEXT NOT NULL, token_id TEXT NOT NULL,
                created TEXT NOT NULL, expires TEXT NOT NULL, host TEXT NOT NULL, signin TEXT NOT NULL);
            CREATE INDEX web_sessions_signin ON web_sessions (signin);
            CREATE TABLE access_generation (id INTEGER PRIMARY KEY CHECK (id = 0), value BIGINT NOT NULL);
            INSERT INTO access_generation (id, value) VALUES (0, 0);
            CREATE FUNCTION jumpgate_move_generation() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE moved BIGINT;
            BEGIN
                UPDATE access_generation SET value = value + 1 WHERE id = 0 RETURNING value INTO moved;
                PERFORM pg_notify('{{Channel}}', moved::text);
                RETURN NULL;
            END $$;

            """);
        foreach (var table in CachedTables)
        {
            sql.Append($"CREATE TRIGGER {table}_generation AFTER INSERT OR UPDATE OR DELETE ON {table} ")
                .Append("FOR EACH ROW EXECUTE FUNCTION jumpgate_move_generation();\n");
        }
        return sql.ToString();
    }
}
