using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>
/// The <c>signin_codes</c> table: a code's SHA-256 and its grant. A code is used up by one
/// <c>DELETE … RETURNING</c>: the row goes to whichever statement deletes it first (PostgreSQL
/// makes a second, concurrent delete wait for the first and then find nothing; SQLite runs one
/// writer at a time), so two gateways can never both redeem one code.
/// </summary>
internal sealed class SqlSignInCodeStore(SqlDatabase database) : ISignInCodeStore
{
    /// <summary>
    /// Unused codes kept at most: minting needs a signed-in user, yet a script of one could mint
    /// without end, and the store must not grow with it. A code lives minutes, so ten thousand
    /// outstanding is far past what a team's clicks make.
    /// </summary>
    public const int Capacity = 10_000;

    public void Add(byte[] codeHash, SignInGrant grant, DateTimeOffset now)
    {
        using var connection = database.Open();
        using (var purge = Command(connection, "DELETE FROM signin_codes WHERE expires <= @now", ("@now", Format(now))))
        {
            // Expired codes are dead weight; minting is rare enough to clean up on.
            purge.ExecuteNonQuery();
        }
        using (var count = Command(connection, "SELECT COUNT(*) FROM signin_codes"))
        {
            var excess = Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) - Capacity + 1;
            if (excess > 0)
            {
                using var drop = Command(connection, "DELETE FROM signin_codes WHERE code_sha256 IN (SELECT code_sha256 FROM signin_codes ORDER BY expires LIMIT @excess)", ("@excess", excess));
                drop.ExecuteNonQuery();
            }
        }
        using var insert = Command(connection, """
            INSERT INTO signin_codes (code_sha256, "user", token_id, signin, label, expires)
            VALUES (@hash, @user, @token, @signin, @label, @expires)
            """,
            ("@hash", codeHash), ("@user", grant.User), ("@token", grant.TokenId), ("@signin", grant.SignIn),
            ("@label", grant.Label), ("@expires", Format(grant.Expires)));
        insert.ExecuteNonQuery();
    }

    public SignInGrant? Take(byte[] codeHash)
    {
        using var connection = database.Open();
        using var command = Command(connection, """
            DELETE FROM signin_codes WHERE code_sha256 = @hash
            RETURNING "user", token_id, signin, label, expires
            """, ("@hash", codeHash));
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new SignInGrant(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), Parse(reader.GetString(4)))
            : null;
    }
}
