using System.CommandLine;
using System.Text.Json;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Config;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway audit</c>: query the audit table (the same events as audit.jsonl).</summary>
internal static class GatewayAuditCommand
{
    public static Command Create()
    {
        var dir = Options.Dir();
        var json = Options.Json();
        var user = new Option<string?>("--user") { Description = "Only this user's events" };
        var host = new Option<string?>("--host") { Description = "Only events about this host" };
        var since = new Option<string?>("--since") { Description = "Only events of the last duration, e.g. 15m, 1h, 7d" };
        var limit = new Option<int>("--limit") { Description = "At most this many of the newest events", DefaultValueFactory = _ => 1000 };
        var command = new Command("audit", Options.Describe(
            "Show audit events, oldest first: streams (opened, closed with bytes each way, revoked, denied, refused), agent sessions and failed or throttled authentications.",
            "jumpgate gateway audit --user researcher --since 1h --dir ./gw",
            "jumpgate gateway audit --host node1 --json --dir ./gw | jq 'select(.outcome == \"denied\")'"))
        {
            user, host, since, limit, json, dir,
        };
        command.SetAction(result =>
        {
            DateTimeOffset? from = null;
            if (result.GetValue(since) is { } text)
            {
                if (!Durations.TryParse(text, out var span))
                {
                    throw new CliException($"--since '{text}' is not a duration such as 15m, 1h or 7d");
                }
                from = DateTimeOffset.UtcNow - span;
            }
            var events = GatewayCommands.OpenStore(result.GetValue(dir)!).QueryAudit(new AuditQuery(result.GetValue(user), result.GetValue(host), from, Math.Max(1, result.GetValue(limit))));
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
                Console.WriteLine($"{e.Time:yyyy-MM-dd HH:mm:ss.fff} {e.Event,-6} {e.Outcome,-12} {e.User ?? "-",-14} {e.Source ?? "-",-22} {target,-20} {e.Agent ?? "-",-12}{bytes} {e.Reason}");
            }
            return 0;
        });
        return command;
    }
}
