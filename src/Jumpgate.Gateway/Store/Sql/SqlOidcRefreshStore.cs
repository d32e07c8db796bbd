using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>oidc_refresh</c> table: one row per watched sign-in, its groups one per line.</summary>
internal sealed class SqlOidcRefreshStore(SqlDatabase database) : IOidcRefreshStore
{
    public void Put(OidcRefreshRecord record)
    {
        using var connection = database.Open();
        using var upsert = Command(connection, """
            INSERT INTO oidc_refresh (token_id, "user", subject, groups, sealed, updated) VALUES (@id, @user, @subject, @groups, @sealed, @now)
            ON CONFLICT (token_id) DO UPDATE SET "user" = excluded."user", subject = excluded.subject, groups = excluded.groups, sealed = excluded.sealed, updated = excluded.updated
            """,
            ("@id", record.TokenId), ("@user", record.User), ("@subject", record.Subject), ("@groups", string.Join('\n', record.Groups)),
            ("@sealed", record.SealedRefreshToken), ("@now", Format(DateTimeOffset.UtcNow)));
        upsert.ExecuteNonQuery();
    }

    public void Remove(string tokenId)
    {
        using var connection = database.Open();
        using var delete = Command(connection, "DELETE FROM oidc_refresh WHERE token_id = @id", ("@id", tokenId));
        delete.ExecuteNonQuery();
    }

    public IReadOnlyList<OidcRefreshRecord> List()
    {
        using var connection = database.Open();
        using var select = Command(connection, """SELECT token_id, "user", subject, groups, sealed FROM oidc_refresh ORDER BY token_id""");
        using var reader = select.ExecuteReader();
        var rows = new List<OidcRefreshRecord>();
        while (reader.Read())
        {
            rows.Add(new OidcRefreshRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.GetString(3).Split('\n', StringSplitOptions.RemoveEmptyEntries), reader.GetString(4)));
        }
        return rows;
    }
}
