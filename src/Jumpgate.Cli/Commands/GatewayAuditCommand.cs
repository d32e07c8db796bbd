using System.CommandLine;
using System.Text.Json;
using Jumpgate.Core.Audit;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway audit</c>: query the audit table (the same events as audit.jsonl, plus local admin changes).</summary>
internal static class GatewayAuditCommand
{
    public static Command Create()
    {
        var json = Options.Json();
        var user = new Option<string?>("--user") { Description = "Only this user's events" };
        var host = new Option<string?>("--host") { Description = "Only events about this host" };
        var kind = new Option<string?>("--event") { Description = "Only events of this kind: stream, agent, auth, admin or host_key" };
        var since = new Option<string?>("--since") { Description = "Only events of the last duration, e.g. 15m, 1h, 7d" };
        var limit = new Option<int>("--limit") { Description = "At most this many of the newest events", DefaultValueFactory = _ => 1000 };
        var command = new Command("audit", AdminTarget.Describe(
            "Show audit events, oldest first: streams (opened, closed with bytes each way, revoked, denied, refused), agent sessions, failed or throttled authentications, and admins' changes (who changed what).",
            "jumpgate gateway audit --user researcher --since 1h --dir ./gw",
            "jumpgate gateway audit --event admin --dir ./gw",
            "jumpgate gateway audit --host node1 --json --dir ./gw | jq 'select(.outcome == \"denied\")'"))
        {
            user, host, kind, since, limit, json,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var events = await admin.AuditAsync(result.GetValue(user), result.GetValue(host), result.GetValue(since), Math.Max(1, result.GetValue(limit)), result.GetValue(kind), cancellationToken);
            if (result.GetValue(json))
            {
                foreach (var audit in events)
                {
                    Console.WriteLine(JsonSerializer.Serialize(audit, AuditJson.Default.AuditEvent));
                }
                return 0;
            }
            foreach (var e in events)
            {
                var target = e.Host is null ? "" : $"{e.Host}:{e.Service}";
                var bytes = e.BytesUp is null ? "" : $" up {e.BytesUp} B, down {e.BytesDown} B;";
                var who = e.Event == AuditEvent.KindAdmin ? e.Admin : e.User;
                Console.WriteLine($"{e.Time:yyyy-MM-dd HH:mm:ss.fff} {e.Event,-6} {e.Outcome,-12} {who ?? "-",-14} {e.Source ?? "-",-22} {target,-20} {e.Agent ?? "-",-12}{bytes} {e.Reason}");
            }
            return 0;
        });
        return command;
    }
}
