using System.Data.Common;
using Jumpgate.Core.Naming;
using Jumpgate.Gateway.Access;
using static Jumpgate.Gateway.Store.Sql.SqlDatabase;

namespace Jumpgate.Gateway.Store.Sql;

/// <summary>The <c>rules</c> table: one row per (subject, host pattern, service); service '*' means every service.</summary>
internal sealed class SqlRuleStore(SqlDatabase database) : IRuleStore
{
    public const string AllServices = "*";

    public bool Grant(AccessRule rule, DateTimeOffset now)
    {
        var added = false;
        using (var connection = database.Open())
        using (var transaction = connection.BeginTransaction())
        {
            foreach (var service in rule.Services.Count == 0 ? [AllServices] : rule.Services)
            {
                added |= Insert(connection, rule.Subject, rule.Hosts.ToString(), service, now);
            }
            transaction.Commit();
        }
        database.Wrote();
        return added;
    }

    public void Revoke(AccessRule rule)
    {
        using (var connection = database.Open())
        using (var transaction = connection.BeginTransaction())
        {
            var pattern = rule.Hosts.ToString();
            if (rule.Services.Count == 0)
            {
                if (Delete(connection, rule.Subject, pattern, null) == 0)
                {
                    throw new InvalidOperationException($"there is no rule for {rule.Subject} on '{pattern}' (`jumpgate gateway rules` lists them)");
                }
            }
            else
            {
                foreach (var service in rule.Services)
                {
                    if (Delete(connection, rule.Subject, pattern, service) == 0)
                    {
                        throw new InvalidOperationException(Services(connection, rule.Subject, pattern).Contains(AllServices)
                            ? $"{rule.Subject} may reach every service of '{pattern}'; revoke that rule (without --service) and grant the services to keep"
                            : $"there is no rule for {rule.Subject} on '{pattern}' service {service} (`jumpgate gateway rules` lists them)");
                    }
                }
            }
            transaction.Commit();
        }
        database.Wrote();
    }

    public IReadOnlyList<AccessRule> List() => Read(null);

    public IReadOnlyList<AccessRule> For(string user) => Read(user);

    /// <summary>Adds one row inside the caller's connection (and transaction, if any); false if it was there already.</summary>
    public static bool Insert(DbConnection connection, string subject, string pattern, string service, DateTimeOffset now)
    {
        using var command = Command(connection, "INSERT INTO rules (subject, host_pattern, service, created) VALUES (@subject, @pattern, @service, @created) ON CONFLICT DO NOTHING",
            ("@subject", subject), ("@pattern", pattern), ("@service", service), ("@created", Format(now)));
        return command.ExecuteNonQuery() > 0;
    }

    private IReadOnlyList<AccessRule> Read(string? user)
    {
        using var connection = database.Open();
        using var command = user is null
            ? Command(connection, "SELECT subject, host_pattern, service FROM rules")
            : Command(connection, """
                SELECT subject, host_pattern, service FROM rules
                WHERE subject = @user OR subject = @everyone OR subject IN (SELECT '@' || grp FROM user_groups WHERE "user" = @user)
                """, ("@user", user), ("@everyone", AccessRule.Everyone));
        using var reader = command.ExecuteReader();
        var rows = new List<(string Subject, string Pattern, string Service)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }
        rows.Sort(Ordinal);
        return [.. rows
            .GroupBy(r => (r.Subject, r.Pattern))
            .Select(g => new AccessRule(
                g.Key.Subject,
                HostPatterns.Parse(g.Key.Pattern),
                g.Any(r => r.Service == AllServices) ? [] : [.. g.Select(r => r.Service)]))];
    }

    private static int Ordinal((string Subject, string Pattern, string Service) a, (string Subject, string Pattern, string Service) b)
    {
        var order = string.CompareOrdinal(a.Subject, b.Subject);
        order = order != 0 ? order : string.CompareOrdinal(a.Pattern, b.Pattern);
        return order != 0 ? order : string.CompareOrdinal(a.Service, b.Service);
    }

    private static int Delete(DbConnection connection, string subject, string pattern, string? service)
    {
        using var command = service is null
            ? Command(connection, "DELETE FROM rules WHERE subject = @subject AND host_pattern = @pattern", ("@subject", subject), ("@pattern", pattern))
            : Command(connection, "DELETE FROM rules WHERE subject = @subject AND host_pattern = @pattern AND service = @service",
                ("@subject", subject), ("@pattern", pattern), ("@service", service));
        return command.ExecuteNonQuery();
    }

    private static List<string> Services(DbConnection connection, string subject, string pattern)
    {
        using var command = Command(connection, "SELECT service FROM rules WHERE subject = @subject AND host_pattern = @pattern", ("@subject", subject), ("@pattern", pattern));
        using var reader = command.ExecuteReader();
        var services = new List<string>();
        while (reader.Read())
        {
            services.Add(reader.GetString(0));
        }
        return services;
    }
}
