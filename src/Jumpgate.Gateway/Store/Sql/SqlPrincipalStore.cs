using System.Data.Common;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>principals</c> table (one row per kind and name) and <c>user_groups</c> (one row per user and group).</summary>
internal sealed class SqlPrincipalStore(SqlDatabase database) : IPrincipalStore
{
    public TokenSecret Add(PrincipalKind kind, string name, HostPatterns? patterns, DateTimeOffset now, IReadOnlyList<string>? groups = null)
    {
        TokenSecret token;
        using (var connection = database.Open())
        using (var transaction = connection.BeginTransaction())
        {
            using (var insert = Command(connection, "INSERT INTO principals (name, kind, host_patterns, created) VALUES (@name, @kind, @patterns, @created) ON CONFLICT DO NOTHING",
                ("@name", name), ("@kind", PrincipalKinds.Text(kind)), ("@patterns", patterns?.ToString()), ("@created", Format(now))))
            {
                if (insert.ExecuteNonQuery() == 0)
                {
                    throw new InvalidOperationException($"{PrincipalKinds.Text(kind)} {name} already exists");
                }
            }
            foreach (var group in groups ?? [])
            {
                AddToGroup(connection, name, group);
            }
            token = SqlTokenStore.Issue(connection, kind, name, now, expires: null);
            transaction.Commit();
        }
        database.Wrote();
        return token;
    }

    public IReadOnlyList<PrincipalRow> List(PrincipalKind kind)
    {
        using var connection = database.Open();
        var rows = new List<PrincipalRow>();
        using (var command = Command(connection, "SELECT name, host_patterns, disabled, created FROM principals WHERE kind = @kind", ("@kind", PrincipalKinds.Text(kind))))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                rows.Add(new PrincipalRow(reader.GetString(0), kind, Text(reader, 1), reader.GetBoolean(2), Parse(reader.GetString(3))));
            }
        }
        rows.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        if (kind == PrincipalKind.User)
        {
            var groups = GroupsByUser(connection);
            rows = [.. rows.Select(r => groups.TryGetValue(r.Name, out var g) ? r with { Groups = g } : r)];
        }
        return rows;
    }

    public bool Exists(PrincipalKind kind, string name)
    {
        using var connection = database.Open();
        return Exists(connection, kind, name);
    }

    public void SetDisabled(PrincipalKind kind, string name, bool disabled)
    {
        using (var connection = database.Open())
        using (var command = Command(connection, "UPDATE principals SET disabled = @disabled WHERE kind = @kind AND name = @name",
            ("@disabled", disabled), ("@kind", PrincipalKinds.Text(kind)), ("@name", name)))
        {
            if (command.ExecuteNonQuery() == 0)
            {
                throw NoSuch(kind, name);
            }
        }
        database.Wrote();
    }

    public void AddToGroups(string user, IReadOnlyList<string> groups)
    {
        using (var connection = database.Open())
        using (var transaction = connection.BeginTransaction())
        {
            foreach (var group in groups)
            {
                AddToGroup(connection, user, group);
            }
            transaction.Commit();
        }
        database.Wrote();
    }

    public IReadOnlyList<string> RemoveFromGroups(string user, IReadOnlyList<string> groups)
    {
        var removed = new List<string>();
        using (var connection = database.Open())
        using (var transaction = connection.BeginTransaction())
        {
            foreach (var group in groups)
            {
                using var command = Command(connection, "DELETE FROM user_groups WHERE \"user\" = @user AND grp = @group", ("@user", user), ("@group", group));
                if (command.ExecuteNonQuery() > 0)
                {
                    removed.Add(group);
                }
            }
            transaction.Commit();
        }
        database.Wrote();
        return removed;
    }

    public static bool Exists(DbConnection connection, PrincipalKind kind, string name)
    {
        using var command = Command(connection, "SELECT 1 FROM principals WHERE kind = @kind AND name = @name", ("@kind", PrincipalKinds.Text(kind)), ("@name", name));
        return command.ExecuteScalar() is not null;
    }

    public static InvalidOperationException NoSuch(PrincipalKind kind, string name) =>
        new($"there is no {PrincipalKinds.Text(kind)} {name} (`jumpgate gateway {PrincipalKinds.Text(kind)}s` lists them)");

    private static void AddToGroup(DbConnection connection, string user, string group)
    {
        using var command = Command(connection, "INSERT INTO user_groups (\"user\", grp) VALUES (@user, @group) ON CONFLICT DO NOTHING", ("@user", user), ("@group", group));
        command.ExecuteNonQuery();
    }

    private static Dictionary<string, IReadOnlyList<string>> GroupsByUser(DbConnection connection)
    {
        using var command = Command(connection, "SELECT \"user\", grp FROM user_groups");
        using var reader = command.ExecuteReader();
        var rows = new List<(string User, string Group)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }
        return rows.GroupBy(r => r.User).ToDictionary(
            g => g.Key, g => (IReadOnlyList<string>)[.. g.Select(r => r.Group).Order(StringComparer.Ordinal)], StringComparer.Ordinal);
    }
}
