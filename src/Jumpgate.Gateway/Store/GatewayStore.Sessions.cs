using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store;

/// <summary>A browser's sign-in: which user, through which of their tokens, until when.</summary>
internal sealed record WebSession(string Id, string User, string TokenId, DateTimeOffset Expires);

/// <summary>
/// Browser sessions. The cookie is <c>id.secret</c>; the store keeps the id and a SHA-256 of the
/// secret, so a copy of the store signs nobody in. A session lives no longer than the token it
/// was signed in with: revoking the token, disabling the user or expiry ends it.
/// </summary>
internal sealed partial class GatewayStore
{
    private static void InitializeSessions(SqliteConnection connection) => Execute(connection, """
        CREATE TABLE IF NOT EXISTS web_sessions (
            id TEXT PRIMARY KEY,
            secret_sha256 BLOB NOT NULL,
            user TEXT NOT NULL,
            token_id TEXT NOT NULL,
            created TEXT NOT NULL,
            expires TEXT NOT NULL);
        """);

    /// <summary>Starts a session and returns its cookie value, which is never stored.</summary>
    public string CreateWebSession(string user, string tokenId, DateTimeOffset now, DateTimeOffset expires)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var connection = Open();
        using (var purge = connection.CreateCommand())
        {
            // Expired sessions are dead weight; sign-ins are rare enough to clean up on.
            purge.CommandText = "DELETE FROM web_sessions WHERE expires <= $now";
            purge.Parameters.AddWithValue("$now", Format(now));
            purge.ExecuteNonQuery();
        }
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO web_sessions (id, secret_sha256, user, token_id, created, expires) VALUES ($id, $hash, $user, $token, $created, $expires)";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$hash", SHA256.HashData(Encoding.ASCII.GetBytes(secret)));
        command.Parameters.AddWithValue("$user", user);
        command.Parameters.AddWithValue("$token", tokenId);
        command.Parameters.AddWithValue("$created", Format(now));
        command.Parameters.AddWithValue("$expires", Format(expires));
        command.ExecuteNonQuery();
        return id + "." + secret;
    }

    /// <summary>The live session a cookie names, or null: unknown, wrong secret, expired, or its token or user no longer valid.</summary>
    public WebSession? FindWebSession(string? cookie, DateTimeOffset now)
    {
        var dot = cookie?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (cookie is null || dot != 16 || cookie.Length != 16 + 1 + 64)
        {
            return null;
        }
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT s.secret_sha256, s.user, s.token_id, s.expires, t.expires, t.revoked, p.disabled
            FROM web_sessions s
            JOIN tokens t ON t.id = s.token_id
            JOIN principals p ON p.name = t.principal AND p.kind = t.kind
            WHERE s.id = $id
            """;
        command.Parameters.AddWithValue("$id", cookie[..dot]);
        using var reader = command.ExecuteReader();
        var presented = SHA256.HashData(Encoding.ASCII.GetBytes(cookie[(dot + 1)..]));
        if (!reader.Read())
        {
            return null;
        }
        if (!CryptographicOperations.FixedTimeEquals(presented, (byte[])reader.GetValue(0)))
        {
            return null;
        }
        var expires = Parse(reader.GetString(3));
        var tokenExpired = !reader.IsDBNull(4) && Parse(reader.GetString(4)) <= now;
        if (expires <= now || tokenExpired || reader.GetInt64(5) != 0 || reader.GetInt64(6) != 0)
        {
            return null;
        }
        return new WebSession(cookie[..dot], reader.GetString(1), reader.GetString(2), expires);
    }

    public void DeleteWebSession(string id)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM web_sessions WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.ExecuteNonQuery();
    }
}
