using Jumpgate.Core.Security;

namespace Jumpgate.Gateway.Store;

/// <summary>A token as the admin commands list it: never its secret, which the store does not have.</summary>
internal sealed record TokenRow(string Id, PrincipalKind Kind, string Principal, DateTimeOffset Created, DateTimeOffset? Expires, bool Revoked);

/// <summary>Token lifecycle: list, issue, revoke, disable a principal, and the re-check of a live connection's token.</summary>
internal sealed partial class GatewayStore
{
    /// <summary>Disables (or enables) a user or agent: its tokens stop authenticating and its live connections are closed.</summary>
    public void SetDisabled(PrincipalKind kind, string name, bool disabled)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE principals SET disabled = $disabled WHERE kind = $kind AND name = $name";
        command.Parameters.AddWithValue("$disabled", disabled ? 1 : 0);
        command.Parameters.AddWithValue("$kind", PrincipalKinds.Text(kind));
        command.Parameters.AddWithValue("$name", name);
        if (command.ExecuteNonQuery() == 0)
        {
            throw new InvalidOperationException($"there is no {PrincipalKinds.Text(kind)} {name} (`jumpgate gateway {PrincipalKinds.Text(kind)}s` lists them)");
        }
    }

    /// <summary>Issues one more token for an existing principal; the secret is returned once and never stored.</summary>
    public TokenSecret AddToken(PrincipalKind kind, string name, DateTimeOffset now, DateTimeOffset? expires)
    {
        if (!PrincipalExists(kind, name))
        {
            throw new InvalidOperationException($"there is no {PrincipalKinds.Text(kind)} {name} (`jumpgate gateway {PrincipalKinds.Text(kind)}s` lists them)");
        }
        using var connection = Open();
        return IssueToken(connection, kind, name, now, expires);
    }

    /// <summary>Revokes a token by its public id; throws if there is no such token.</summary>
    public TokenRow RevokeToken(string id)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE tokens SET revoked = 1 WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        if (command.ExecuteNonQuery() == 0)
        {
            throw new InvalidOperationException($"there is no token {id} (`jumpgate gateway tokens` lists them)");
        }
        return ListTokens().Single(t => t.Id == id);
    }

    public IReadOnlyList<TokenRow> ListTokens()
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, kind, principal, created, expires, revoked FROM tokens ORDER BY kind, principal, created";
        using var reader = command.ExecuteReader();
        var rows = new List<TokenRow>();
        while (reader.Read())
        {
            rows.Add(new TokenRow(
                reader.GetString(0),
                PrincipalKinds.TryParse(reader.GetString(1), out var kind) ? kind : PrincipalKind.User,
                reader.GetString(2),
                Parse(reader.GetString(3)),
                reader.IsDBNull(4) ? null : Parse(reader.GetString(4)),
                reader.GetInt64(5) != 0));
        }
        return rows;
    }

    /// <summary>
    /// Whether a token that authenticated earlier still would: not revoked, not expired, its
    /// principal not disabled. The gateway asks this of every live connection periodically.
    /// </summary>
    public bool IsTokenValid(string id, DateTimeOffset now)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT t.expires, t.revoked, p.disabled
            FROM tokens t JOIN principals p ON p.name = t.principal AND p.kind = t.kind
            WHERE t.id = $id
            """;
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return false;
        }
        var expired = !reader.IsDBNull(0) && Parse(reader.GetString(0)) <= now;
        return !expired && reader.GetInt64(1) == 0 && reader.GetInt64(2) == 0;
    }
}
