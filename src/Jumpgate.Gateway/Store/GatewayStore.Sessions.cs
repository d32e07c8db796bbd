using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store;

/// <summary>
/// A browser's sign-in on one host: which user, through which of their tokens, until when, the
/// host it was issued for (the gateway's own name or one service subdomain, e.g.
/// <c>web--node1.example.org</c>) and the sign-in it belongs to: every session minted from one
/// sign-in on the gateway shares that id, so signing out ends them together.
/// </summary>
internal sealed record WebSession(string Id, string User, string TokenId, DateTimeOffset Expires, string Host, string SignIn);

/// <summary>
/// A session cookie as presented, once its shape is right: <c>id.secret</c>, 16 and 64 lower-case
/// hex digits. Only the secret's SHA-256 is kept, so the secret lives no longer than the request.
/// </summary>
internal sealed record SessionCookie(string Id, byte[] SecretHash)
{
    private const int IdLength = 16;
    private const int SecretLength = 64;

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    /// <summary>False for anything not shaped like a cookie the gateway made, before any hashing or lookup.</summary>
    public static bool TryParse(string? value, out SessionCookie cookie)
    {
        cookie = null!;
        if (value is not { Length: IdLength + 1 + SecretLength } || value[IdLength] != '.'
            || value.AsSpan(0, IdLength).ContainsAnyExcept(LowerHex) || value.AsSpan(IdLength + 1).ContainsAnyExcept(LowerHex))
        {
            return false;
        }
        cookie = new SessionCookie(value[..IdLength], Hash(value[(IdLength + 1)..]));
        return true;
    }

    /// <summary>A fresh id and secret: the cookie value (shown to the browser once) and what the store keeps.</summary>
    public static (string Value, SessionCookie Cookie) Create()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdLength / 2));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretLength / 2));
        return (id + "." + secret, new SessionCookie(id, Hash(secret)));
    }

    /// <summary>Whether <paramref name="stored"/> is this cookie's secret hash, in constant time.</summary>
    public bool Matches(byte[] stored) => CryptographicOperations.FixedTimeEquals(SecretHash, stored);

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.ASCII.GetBytes(secret));
}

/// <summary>
/// Browser sessions. The cookie is <c>id.secret</c>; the store keeps the id and a SHA-256 of the
/// secret, so a copy of the store signs nobody in. A session lives no longer than the token it
/// was signed in with: revoking the token, disabling the user or expiry ends it.
/// </summary>
internal sealed partial class GatewayStore
{
    private static void InitializeSessions(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS web_sessions (
                id TEXT PRIMARY KEY,
                secret_sha256 BLOB NOT NULL,
                user TEXT NOT NULL,
                token_id TEXT NOT NULL,
                created TEXT NOT NULL,
                expires TEXT NOT NULL,
                host TEXT NOT NULL,
                signin TEXT NOT NULL);
            """);
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT 1 FROM pragma_table_info('web_sessions') WHERE name = 'host'";
            if (command.ExecuteScalar() is null)
            {
                // A store made before sessions were bound to a host and a sign-in: each of its sessions
                // would open every subdomain and survive sign-out, so they end here; browsers sign in again.
                Execute(connection, """
                    DELETE FROM web_sessions;
                    ALTER TABLE web_sessions ADD COLUMN host TEXT NOT NULL DEFAULT '';
                    ALTER TABLE web_sessions ADD COLUMN signin TEXT NOT NULL DEFAULT '';
                    """);
            }
        }
        Execute(connection, "CREATE INDEX IF NOT EXISTS web_sessions_signin ON web_sessions (signin);");
        transaction.Commit();
    }

    /// <summary>Starts a session valid on <paramref name="host"/> alone, as part of sign-in <paramref name="signIn"/>; returns its cookie value, which is never stored.</summary>
    public string CreateWebSession(string user, string tokenId, string host, string signIn, DateTimeOffset now, DateTimeOffset expires)
    {
        var (value, cookie) = SessionCookie.Create();
        using var connection = Open();
        using (var purge = connection.CreateCommand())
        {
            // Expired sessions are dead weight; sign-ins are rare enough to clean up on.
            purge.CommandText = "DELETE FROM web_sessions WHERE expires <= $now";
            purge.Parameters.AddWithValue("$now", Format(now));
            purge.ExecuteNonQuery();
        }
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO web_sessions (id, secret_sha256, user, token_id, created, expires, host, signin)
            VALUES ($id, $hash, $user, $token, $created, $expires, $host, $signin)
            """;
        command.Parameters.AddWithValue("$id", cookie.Id);
        command.Parameters.AddWithValue("$hash", cookie.SecretHash);
        command.Parameters.AddWithValue("$user", user);
        command.Parameters.AddWithValue("$token", tokenId);
        command.Parameters.AddWithValue("$created", Format(now));
        command.Parameters.AddWithValue("$expires", Format(expires));
        command.Parameters.AddWithValue("$host", host);
        command.Parameters.AddWithValue("$signin", signIn);
        command.ExecuteNonQuery();
        return value;
    }

    /// <summary>The live session a cookie names, or null: unknown, wrong secret, expired, or its token or user no longer valid.</summary>
    public WebSession? FindWebSession(SessionCookie cookie, DateTimeOffset now)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT s.secret_sha256, s.user, s.token_id, s.expires, t.expires, t.revoked, p.disabled, s.host, s.signin
            FROM web_sessions s
            JOIN tokens t ON t.id = s.token_id
            JOIN principals p ON p.name = t.principal AND p.kind = t.kind
            WHERE s.id = $id
            """;
        command.Parameters.AddWithValue("$id", cookie.Id);
        using var reader = command.ExecuteReader();
        if (!reader.Read() || !cookie.Matches((byte[])reader.GetValue(0)))
        {
            return null;
        }
        var expires = Parse(reader.GetString(3));
        var tokenExpired = !reader.IsDBNull(4) && Parse(reader.GetString(4)) <= now;
        if (expires <= now || tokenExpired || reader.GetInt64(5) != 0 || reader.GetInt64(6) != 0)
        {
            return null;
        }
        return new WebSession(cookie.Id, reader.GetString(1), reader.GetString(2), expires, reader.GetString(7), reader.GetString(8));
    }

    /// <summary>Ends every session of one sign-in, on the gateway and every subdomain; returns how many there were.</summary>
    public int DeleteSignIn(string signIn)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM web_sessions WHERE signin = $signin";
        command.Parameters.AddWithValue("$signin", signIn);
        return command.ExecuteNonQuery();
    }
}
