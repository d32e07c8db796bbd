using System.Globalization;
using System.Text.Json;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store;

/// <summary>A host as the store remembers it, whether or not its agent is online.</summary>
internal sealed record KnownHost(string Name, string Agent, IReadOnlyList<ServiceAnnouncement> Services, DateTimeOffset LastSeen);

/// <summary>A user or agent as the admin commands list it.</summary>
internal sealed record PrincipalRow(string Name, PrincipalKind Kind, string? HostPatterns, bool Disabled, DateTimeOffset Created)
{
    /// <summary>The user's groups (none for agents); every user is also in the implicit group everyone.</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];
}

/// <summary>
/// The gateway's state in one SQLite file next to gateway.yaml: users, agents, their hashed
/// tokens, and the hosts agents have announced; access rules, groups and the audit trail live in
/// the other parts of this class. Admin commands write it from another process while the
/// gateway runs, so every read goes to the file (WAL mode keeps that cheap).
/// </summary>
internal sealed partial class GatewayStore : IDisposable
{
    private readonly string _connectionString;

    public GatewayStore(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
    }

    public string Path { get; }

    public void Initialize()
    {
        CreatePrivate();
        using var connection = Open();
        var fresh = !TableExists(connection, "rules");
        Execute(connection, """
            PRAGMA journal_mode = WAL;
            """ + PrincipalsTable("principals") + """
            CREATE TABLE IF NOT EXISTS tokens (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                principal TEXT NOT NULL,
                secret_sha256 BLOB NOT NULL,
                created TEXT NOT NULL,
                expires TEXT,
                revoked INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS hosts (
                name TEXT NOT NULL,
                agent TEXT NOT NULL,
                services TEXT NOT NULL,
                last_seen TEXT NOT NULL,
                PRIMARY KEY (name, agent));
            """);
        AllowAdminKind(connection);
        InitializeAccess(connection, fresh);
        InitializeAudit(connection);
        InitializeSessions(connection);
        InitializeGeneration(connection);
    }

    /// <summary>
    /// Creates a missing store file with mode 0600 before SQLite opens it: SQLite would create it
    /// with the umask's mode (0644 as a rule), readable by every local user until the gateway's next
    /// start refused it. SQLite gives the -wal and -shm files the database file's mode.
    /// </summary>
    private void CreatePrivate()
    {
        try
        {
            PrivateFile.CreateNew(Path).Dispose();
        }
        catch (IOException) when (File.Exists(Path))
        {
            // The store exists already: its mode is the gateway's start-up check's business.
        }
    }

    /// <summary>Adds a user or agent and returns its first token, which is shown once and never stored.</summary>
    public TokenSecret AddPrincipal(PrincipalKind kind, string name, HostPatterns? patterns, DateTimeOffset now, IReadOnlyList<string>? groups = null)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO principals (name, kind, host_patterns, created) VALUES ($name, $kind, $patterns, $created)";
            insert.Parameters.AddWithValue("$name", name);
            insert.Parameters.AddWithValue("$kind", PrincipalKinds.Text(kind));
            insert.Parameters.AddWithValue("$patterns", (object?)patterns?.ToString() ?? DBNull.Value);
            insert.Parameters.AddWithValue("$created", Format(now));
            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19)
            {
                throw new InvalidOperationException($"{PrincipalKinds.Text(kind)} {name} already exists");
            }
        }
        foreach (var group in groups ?? [])
        {
            AddToGroup(connection, name, group);
        }
        var token = IssueToken(connection, kind, name, now, expires: null);
        transaction.Commit();
        return token;
    }

    public IReadOnlyList<PrincipalRow> ListPrincipals(PrincipalKind kind)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, host_patterns, disabled, created FROM principals WHERE kind = $kind ORDER BY name";
        command.Parameters.AddWithValue("$kind", PrincipalKinds.Text(kind));
        using var reader = command.ExecuteReader();
        var rows = new List<PrincipalRow>();
        while (reader.Read())
        {
            rows.Add(new PrincipalRow(reader.GetString(0), kind, reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2) != 0, Parse(reader.GetString(3))));
        }
        reader.Close();
        if (kind == PrincipalKind.User)
        {
            var groups = GroupsByUser(connection);
            rows = [.. rows.Select(r => groups.TryGetValue(r.Name, out var g) ? r with { Groups = g } : r)];
        }
        return rows;
    }

    /// <summary>
    /// Finds who a token belongs to. Every failure (unknown id, wrong secret, revoked, expired,
    /// disabled, wrong kind) returns null alike, so a caller cannot tell them apart.
    /// </summary>
    public Principal? Authenticate(string? presented, PrincipalKind expected, DateTimeOffset now) =>
        Authenticate(presented, expected, now, out _);

    /// <summary>
    /// The store's answer for a parsed token; <paramref name="stale"/> names the principal when
    /// the secret was right but the token is revoked or expired or its principal disabled: a stale
    /// credential, not a guess. Only the gateway's own bookkeeping (rate limit, audit) sees the
    /// difference; the peer never does.
    /// </summary>
    private Principal? AuthenticateInStore(TokenSecret token, PrincipalKind expected, DateTimeOffset now, out string? stale, out byte[]? secretHash, out DateTimeOffset? expires)
    {
        stale = null;
        secretHash = null;
        expires = null;
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT t.secret_sha256, t.expires, t.revoked, p.name, p.host_patterns, p.disabled
            FROM tokens t JOIN principals p ON p.name = t.principal AND p.kind = t.kind
            WHERE t.id = $id AND t.kind = $kind
            """;
        command.Parameters.AddWithValue("$id", token.Id);
        command.Parameters.AddWithValue("$kind", PrincipalKinds.Text(expected));
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            // Hash anyway so an unknown id costs the same as a wrong secret.
            _ = TokenSecret.SecretMatches(token, new byte[32]);
            return null;
        }
        var hash = (byte[])reader.GetValue(0);
        expires = reader.IsDBNull(1) ? null : Parse(reader.GetString(1));
        var expired = expires <= now;
        if (!TokenSecret.SecretMatches(token, hash))
        {
            return null;
        }
        if (expired || reader.GetInt64(2) != 0 || reader.GetInt64(5) != 0)
        {
            stale = reader.GetString(3);
            return null;
        }
        var patterns = reader.IsDBNull(4) ? null : HostPatterns.Parse(reader.GetString(4));
        secretHash = hash;
        return new Principal(expected, reader.GetString(3), patterns, token.Id);
    }

    /// <summary>Records what an agent serves now, forgetting hosts it no longer announces. Services' own tokens are never stored.</summary>
    public void ReplaceHosts(string agent, IReadOnlyList<HostAnnouncement> hosts, DateTimeOffset now)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        using (var delete = connection.CreateCommand())
        {
            delete.CommandText = "DELETE FROM hosts WHERE agent = $agent";
            delete.Parameters.AddWithValue("$agent", agent);
            delete.ExecuteNonQuery();
        }
        foreach (var host in hosts)
        {
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO hosts (name, agent, services, last_seen) VALUES ($name, $agent, $services, $seen)";
            insert.Parameters.AddWithValue("$name", host.Name);
            insert.Parameters.AddWithValue("$agent", agent);
            insert.Parameters.AddWithValue("$services", JsonSerializer.Serialize<IReadOnlyList<ServiceAnnouncement>>([.. host.Services.Select(s => s with { Token = null })], StoreJson.Default.IReadOnlyListServiceAnnouncement));
            insert.Parameters.AddWithValue("$seen", Format(now));
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public void MarkSeen(string agent, DateTimeOffset now)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE hosts SET last_seen = $seen WHERE agent = $agent";
        command.Parameters.AddWithValue("$seen", Format(now));
        command.Parameters.AddWithValue("$agent", agent);
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<KnownHost> ListHosts(string? name = null)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = name is null
            ? "SELECT name, agent, services, last_seen FROM hosts ORDER BY name, agent"
            : "SELECT name, agent, services, last_seen FROM hosts WHERE name = $name ORDER BY last_seen DESC";
        if (name is not null)
        {
            command.Parameters.AddWithValue("$name", name);
        }
        using var reader = command.ExecuteReader();
        var hosts = new List<KnownHost>();
        while (reader.Read())
        {
            var services = JsonSerializer.Deserialize(reader.GetString(2), StoreJson.Default.IReadOnlyListServiceAnnouncement) ?? [];
            hosts.Add(new KnownHost(reader.GetString(0), reader.GetString(1), services, Parse(reader.GetString(3))));
        }
        return hosts;
    }

    private static TokenSecret IssueToken(SqliteConnection connection, PrincipalKind kind, string name, DateTimeOffset now, DateTimeOffset? expires)
    {
        var token = TokenSecret.Create(kind);
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO tokens (id, kind, principal, secret_sha256, created, expires) VALUES ($id, $kind, $name, $hash, $created, $expires)";
        command.Parameters.AddWithValue("$id", token.Id);
        command.Parameters.AddWithValue("$kind", PrincipalKinds.Text(kind));
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$hash", token.SecretHash());
        command.Parameters.AddWithValue("$created", Format(now));
        command.Parameters.AddWithValue("$expires", expires is null ? DBNull.Value : Format(expires.Value));
        command.ExecuteNonQuery();
        return token;
    }

    private static bool TableExists(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $name";
        command.Parameters.AddWithValue("$name", table);
        return command.ExecuteScalar() is not null;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // synchronous = NORMAL: with WAL, a commit survives a crash of the gateway (not of the machine) without an fsync;
        // FULL cost an fsync per audit batch, about one per stream event (docs/decisions.md).
        Execute(connection, "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

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
    private static void AllowAdminKind(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'principals'";
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

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<ServiceAnnouncement>))]
internal sealed partial class StoreJson : System.Text.Json.Serialization.JsonSerializerContext;
