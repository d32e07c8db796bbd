using System.Data.Common;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>tokens</c> table: one row per token, with the SHA-256 of its secret and never the secret.</summary>
internal sealed class SqlTokenStore(SqlDatabase database) : ITokenStore
{
    public TokenSecret Add(PrincipalKind kind, string name, DateTimeOffset now, DateTimeOffset? expires)
    {
        TokenSecret token;
        using (var connection = database.Open())
        {
            if (!SqlPrincipalStore.Exists(connection, kind, name))
            {
                throw SqlPrincipalStore.NoSuch(kind, name);
            }
            token = Issue(connection, kind, name, now, expires);
        }
        database.Wrote();
        return token;
    }

    public TokenRow Revoke(string id)
    {
        using (var connection = database.Open())
        using (var command = Command(connection, "UPDATE tokens SET revoked = TRUE WHERE id = @id", ("@id", id)))
        {
            if (command.ExecuteNonQuery() == 0)
            {
                throw new InvalidOperationException($"there is no token {id} (`jumpgate gateway tokens` lists them)");
            }
        }
        database.Wrote();
        return List().Single(t => t.Id == id);
    }

    public IReadOnlyList<TokenRow> List()
    {
        using var connection = database.Open();
        using var command = Command(connection, "SELECT id, kind, principal, created, expires, revoked FROM tokens");
        using var reader = command.ExecuteReader();
        var rows = new List<(string Kind, TokenRow Row)>();
        while (reader.Read())
        {
            var kind = reader.GetString(1);
            rows.Add((kind, new TokenRow(
                reader.GetString(0),
                PrincipalKinds.TryParse(kind, out var parsed) ? parsed : PrincipalKind.User,
                reader.GetString(2),
                Parse(reader.GetString(3)),
                Time(reader, 4),
                reader.GetBoolean(5))));
        }
        return [.. rows
            .OrderBy(r => r.Kind, StringComparer.Ordinal)
            .ThenBy(r => r.Row.Principal, StringComparer.Ordinal)
            .ThenBy(r => r.Row.Created)
            .Select(r => r.Row)];
    }

    public StoredToken? Find(string id)
    {
        using var connection = database.Open();
        using var command = Command(connection, """
            SELECT t.kind, p.name, p.host_patterns, t.secret_sha256, t.expires, t.revoked, p.disabled
            FROM tokens t JOIN principals p ON p.name = t.principal AND p.kind = t.kind
            WHERE t.id = @id
            """, ("@id", id));
        using var reader = command.ExecuteReader();
        if (!reader.Read() || !PrincipalKinds.TryParse(reader.GetString(0), out var kind))
        {
            return null;
        }
        return new StoredToken(
            id, kind, reader.GetString(1), Text(reader, 2) is { } patterns ? HostPatterns.Parse(patterns) : null,
            (byte[])reader.GetValue(3), Time(reader, 4), reader.GetBoolean(5), reader.GetBoolean(6));
    }

    /// <summary>Issues a token inside the caller's connection (and transaction, if any): a new principal's first token is added with it.</summary>
    public static TokenSecret Issue(DbConnection connection, PrincipalKind kind, string name, DateTimeOffset now, DateTimeOffset? expires)
    {
        var token = TokenSecret.Create(kind);
        using var command = Command(connection,
            "INSERT INTO tokens (id, kind, principal, secret_sha256, created, expires) VALUES (@id, @kind, @name, @hash, @created, @expires)",
            ("@id", token.Id), ("@kind", PrincipalKinds.Text(kind)), ("@name", name), ("@hash", token.SecretHash()),
            ("@created", Format(now)), ("@expires", expires is { } e ? Format(e) : null));
        command.ExecuteNonQuery();
        return token;
    }
}
