using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Gateway.Store;

/// <summary>Access rules and user groups. One row per (subject, host pattern, service); service '*' means every service.</summary>
internal sealed partial class GatewayStore
{
    private const string AllServices = "*";

    private static void InitializeAccess(SqliteConnection connection, bool fresh)
    {
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS user_groups (
                user TEXT NOT NULL,
                grp TEXT NOT NULL,
                PRIMARY KEY (user, grp));
            CREATE TABLE IF NOT EXISTS rules (
                subject TEXT NOT NULL,
                host_pattern TEXT NOT NULL,
                service TEXT NOT NULL,
                created TEXT NOT NULL,
                PRIMARY KEY (subject, host_pattern, service));
            """);
        if (fresh)
        {
            // A new store (from `gateway init`, or one made before rules existed) lets every user
            // reach everything, as the core did; revoking this rule makes access deny-by-default.
            InsertRule(connection, AccessRule.Everyone, "*", AllServices, DateTimeOffset.UtcNow);
        }
    }

    /// <summary>Adds a rule; granting what is already granted changes nothing. Returns false if the rule existed.</summary>
    public bool Grant(AccessRule rule, DateTimeOffset now)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        var added = false;
        foreach (var service in rule.Services.Count == 0 ? [AllServices] : rule.Services)
        {
            added |= InsertRule(connection, rule.Subject, rule.Hosts.ToString(), service, now);
        }
        transaction.Commit();
        return added;
    }

    /// <summary>
    /// Removes a rule: without services, every row of that subject and pattern; with services,
    /// those rows only. Throws with the reason when there is nothing to remove.
    /// </summary>
    public void Revoke(AccessRule rule)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        var pattern = rule.Hosts.ToString();
        if (rule.Services.Count == 0)
        {
            if (DeleteRules(connection, rule.Subject, pattern, null) == 0)
            {
                throw new InvalidOperationException($"there is no rule for {rule.Subject} on '{pattern}' (`jumpgate gateway rules` lists them)");
            }
        }
        else
        {
            foreach (var service in rule.Services)
            {
                if (DeleteRules(connection, rule.Subject, pattern, service) == 0)
                {
                    throw new InvalidOperationException(RuleRows(connection, rule.Subject, pattern).Contains(AllServices)
                        ? $"{rule.Subject} may reach every service of '{pattern}'; revoke that rule (without --service) and grant the services to keep"
                        : $"there is no rule for {rule.Subject} on '{pattern}' service {service} (`jumpgate gateway rules` lists them)");
                }
            }
        }
        transaction.Commit();
    }

    /// <summary>Every rule, one per subject and pattern with its services gathered.</summary>
    public IReadOnlyList<AccessRule> ListRules() => ReadRules(null);

    public void AddToGroups(string user, IReadOnlyList<string> groups)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        foreach (var group in groups)
        {
            AddToGroup(connection, user, group);
        }
        transaction.Commit();
    }

    /// <summary>Takes a user out of groups; returns the groups they were in and are no longer.</summary>
    public IReadOnlyList<string> RemoveFromGroups(string user, IReadOnlyList<string> groups)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        var removed = new List<string>();
        foreach (var group in groups)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM user_groups WHERE user = $user AND grp = $group";
            command.Parameters.AddWithValue("$user", user);
            command.Parameters.AddWithValue("$group", group);
            if (command.ExecuteNonQuery() > 0)
            {
                removed.Add(group);
            }
        }
        transaction.Commit();
        return removed;
    }

    public bool PrincipalExists(Core.Security.PrincipalKind kind, string name)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM principals WHERE kind = $kind AND name = $name";
        command.Parameters.AddWithValue("$kind", PrincipalKinds.Text(kind));
        command.Parameters.AddWithValue("$name", name);
        return command.ExecuteScalar() is not null;
    }

    private IReadOnlyList<AccessRule> ReadRules(string? user)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = user is null
            ? "SELECT subject, host_pattern, service FROM rules ORDER BY subject, host_pattern, service"
            : """
              SELECT subject, host_pattern, service FROM rules
              WHERE subject = $user OR subject = $everyone OR subject IN (SELECT '@' || grp FROM user_groups WHERE user = $user)
              ORDER BY subject, host_pattern, service
              """;
        if (user is not null)
        {
            command.Parameters.AddWithValue("$user", user);
            command.Parameters.AddWithValue("$everyone", AccessRule.Everyone);
        }
        using var reader = command.ExecuteReader();
        var rows = new List<(string Subject, string Pattern, string Service)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }
        return [.. rows
            .GroupBy(r => (r.Subject, r.Pattern))
            .Select(g => new AccessRule(
                g.Key.Subject,
                HostPatterns.Parse(g.Key.Pattern),
                g.Any(r => r.Service == AllServices) ? [] : [.. g.Select(r => r.Service)]))];
    }

    private static bool InsertRule(SqliteConnection connection, string subject, string pattern, string service, DateTimeOffset now)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT OR IGNORE INTO rules (subject, host_pattern, service, created) VALUES ($subject, $pattern, $service, $created)";
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$pattern", pattern);
        command.Parameters.AddWithValue("$service", service);
        command.Parameters.AddWithValue("$created", Format(now));
        return command.ExecuteNonQuery() > 0;
    }

    private static int DeleteRules(SqliteConnection connection, string subject, string pattern, string? service)
    {
        using var command = connection.CreateCommand();
        command.CommandText = service is null
            ? "DELETE FROM rules WHERE subject = $subject AND host_pattern = $pattern"
            : "DELETE FROM rules WHERE subject = $subject AND host_pattern = $pattern AND service = $service";
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$pattern", pattern);
        if (service is not null)
        {
            command.Parameters.AddWithValue("$service", service);
        }
        return command.ExecuteNonQuery();
    }

    private static List<string> RuleRows(SqliteConnection connection, string subject, string pattern)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT service FROM rules WHERE subject = $subject AND host_pattern = $pattern";
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$pattern", pattern);
        using var reader = command.ExecuteReader();
        var services = new List<string>();
        while (reader.Read())
        {
            services.Add(reader.GetString(0));
        }
        return services;
    }

    private static void AddToGroup(SqliteConnection connection, string user, string group)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT OR IGNORE INTO user_groups (user, grp) VALUES ($user, $group)";
        command.Parameters.AddWithValue("$user", user);
        command.Parameters.AddWithValue("$group", group);
        command.ExecuteNonQuery();
    }

    private static Dictionary<string, IReadOnlyList<string>> GroupsByUser(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT user, grp FROM user_groups ORDER BY user, grp";
        using var reader = command.ExecuteReader();
        var rows = new List<(string User, string Group)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }
        return rows.GroupBy(r => r.User).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)[.. g.Select(r => r.Group)], StringComparer.Ordinal);
    }
}
