using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>web_sessions</c> table: a session's id, the SHA-256 of its secret, and what it is bound to.</summary>
internal sealed class SqlWebSessionStore(SqlDatabase database) : IWebSessionStore
{
    public string Create(string user, string tokenId, string host, string signIn, DateTimeOffset now, DateTimeOffset expires)
    {
        var (value, cookie) = SessionCookie.Create();
        using (var connection = database.Open())
        {
            using (var purge = Command(connection, "DELETE FROM web_sessions WHERE expires <= @now", ("@now", Format(now))))
            {
                // Expired sessions are dead weight; sign-ins are rare enough to clean up on.
                purge.ExecuteNonQuery();
            }
            using var command = Command(connection, """
                INSERT INTO web_sessions (id, secret_sha256, "user", token_id, created, expires, host, signin)
                VALUES (@id, @hash, @user, @token, @created, @expires, @host, @signin)
                """,
                ("@id", cookie.Id), ("@hash", cookie.SecretHash), ("@user", user), ("@token", tokenId),
                ("@created", Format(now)), ("@expires", Format(expires)), ("@host", host), ("@signin", signIn));
            command.ExecuteNonQuery();
        }
        database.Wrote();
        return value;
    }

    public WebSession? Find(SessionCookie cookie, DateTimeOffset now)
    {
        using var connection = database.Open();
        using var command = Command(connection, """
            SELECT s.secret_sha256, s."user", s.token_id, s.expires, t.expires, t.revoked, p.disabled, s.host, s.signin
            FROM web_sessions s
            JOIN tokens t ON t.id = s.token_id
            JOIN principals p ON p.name = t.principal AND p.kind = t.kind
            WHERE s.id = @id
            """, ("@id", cookie.Id));
        using var reader = command.ExecuteReader();
        if (!reader.Read() || !cookie.Matches((byte[])reader.GetValue(0)))
        {
            return null;
        }
        var expires = Parse(reader.GetString(3));
        if (Time(reader, 4) is { } tokenExpires && tokenExpires < expires)
        {
            expires = tokenExpires;
        }
        if (expires <= now || reader.GetBoolean(5) || reader.GetBoolean(6))
        {
            return null;
        }
        return new WebSession(cookie.Id, reader.GetString(1), reader.GetString(2), expires, reader.GetString(7), reader.GetString(8));
    }

    public int DeleteSignIn(string signIn)
    {
        int deleted;
        using (var connection = database.Open())
        using (var command = Command(connection, "DELETE FROM web_sessions WHERE signin = @signin", ("@signin", signIn)))
        {
            deleted = command.ExecuteNonQuery();
        }
        database.Wrote();
        return deleted;
    }
}
