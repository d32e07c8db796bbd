using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Api;
using Jumpgate.Core.Config;

namespace Jumpgate.Cli.Commands;

/// <summary>
/// What is up, from the command line: `jumpgate status` (the gateway, who you are, your hosts; an
/// admin's agents and live streams) and `jumpgate ls` (once, or redrawn on change with --watch).
/// </summary>
internal static class StatusCommands
{
    /// <summary>The shortest and the default time between two looks of `ls --watch`: one small API call a second at most.</summary>
    private static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(1);

    public static Command Status()
    {
        var json = Options.Json();
        var command = new Command("status", AdminTarget.Describe(
            "Show whether the gateway answers and how fast, who you are and the hosts you may reach; with --remote or --dir, as an admin: the agents and the streams open now.",
            "jumpgate status --dir ./gw",
            "jumpgate status",
            "jumpgate status --json"))
        {
            json,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            if (target.IsGiven(result))
            {
                using var admin = target.Open(result);
                var status = await admin.StatusAsync(cancellationToken);
                Console.Write(result.GetValue(json) ? JsonSerializer.Serialize(status, AdminJson.Default.GatewayStatus) + "\n" : Render(status, DateTimeOffset.UtcNow));
                return 0;
            }
            using var api = GatewayApi.FromSettings(ClientSettings.Load());
            var clock = Stopwatch.StartNew();
            var me = await api.WhoAmIAsync(cancellationToken);
            var connect = clock.Elapsed;
            // The second call rides the connection the first opened: its time is the round trip itself.
            clock.Restart();
            var hosts = await api.HostsAsync(cancellationToken);
            var roundTrip = clock.Elapsed;
            var user = new UserStatus(api.Gateway.ToString(), me.User, Math.Round(roundTrip.TotalMilliseconds, 1), Math.Round(connect.TotalMilliseconds, 1), hosts);
            Console.Write(result.GetValue(json) ? JsonSerializer.Serialize(user, StatusJson.Default.UserStatus) + "\n" : Render(user, DateTimeOffset.UtcNow));
            return 0;
        });
        return command;
    }

    /// <summary>`ls --watch`: looks every <paramref name="interval"/> and redraws only when something changed, until Ctrl-C (or <paramref name="count"/> draws).</summary>
    public static async Task<int> WatchAsync(bool json, TimeSpan interval, int? count, CancellationToken cancellationToken)
    {
        if (interval < MinimumInterval)
        {
            throw new CliException($"--interval must be at least {MinimumInterval.TotalSeconds:0} s");
        }
        using var api = GatewayApi.FromSettings(ClientSettings.Load());
        // Redrawing in place only makes sense on a terminal; piped, each change is appended (one JSON document per line with --json).
        var inPlace = !Console.IsOutputRedirected && !json;
        string? last = null;
        var drawn = 0;
        using var ticker = new PeriodicTimer(interval);
        try
        {
            do
            {
                var hosts = await api.HostsAsync(cancellationToken);
                var text = json
                    ? JsonSerializer.Serialize(hosts, WatchJson.Default.IReadOnlyListHostListing) + "\n"
                    : ClientCommands.RenderHosts(hosts, DateTimeOffset.UtcNow, offlineAges: false);
                if (text == last)
                {
                    continue;
                }
                last = text;
                Console.Write(inPlace ? "\e[H\e[2J" + $"{api.Gateway} · every {interval.TotalSeconds:0.#} s · Ctrl-C stops\n\n" + text : text);
                if (count is { } limit && ++drawn >= limit)
                {
                    break;
                }
            }
            while (await ticker.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl-C: the way a watch ends.
        }
        return 0;
    }

    internal static string Render(UserStatus status, DateTimeOffset now)
    {
        var text = new StringBuilder();
        text.AppendLine($"gateway  {status.Gateway}: reachable, round trip {status.RoundTripMs:0.#} ms (first call with connect {status.ConnectMs:0.#} ms)");
        text.AppendLine($"you      {status.User}");
        text.AppendLine();
        text.Append(status.Hosts.Count == 0 ? "no hosts you may reach yet\n" : ClientCommands.RenderHosts(status.Hosts, now, offlineAges: true));
        return text.ToString();
    }

    internal static string Render(GatewayStatus status, DateTimeOffset now)
    {
        var text = new StringBuilder();
        if (status.Certificate is { } certificate)
        {
            text.AppendLine($"certificate  {string.Join(", ", certificate.Names)} from ACME, valid until {certificate.NotAfter:yyyy-MM-dd HH:mm} UTC"
                + (certificate.NextRenewal is { } next ? $", renews {(next <= now ? "now" : "in " + Durations.Humanize(next - now))}" : ""));
            if (certificate.RenewalFailure is { } failure)
            {
                text.AppendLine($"             renewal FAILED {Durations.Humanize(now - certificate.FailedAt!.Value)} ago: {failure}");
            }
            text.AppendLine();
        }
        text.AppendLine($"{"AGENT",-20} {"STATUS",-28} {"TRUNKS",6} {"STREAMS",7}  HOSTS");
        foreach (var agent in status.Agents)
        {
            var state = agent.Online
                ? $"online {Durations.Humanize(now - agent.Since!.Value)} ({agent.Address})"
                : agent.LastSeen is { } seen ? $"offline ({Durations.Humanize(now - seen)} ago)" : "never connected";
            text.AppendLine($"{agent.Name,-20} {state,-28} {agent.Trunks,6} {agent.OpenStreams,7}  {string.Join(", ", agent.Hosts)}");
        }
        text.AppendLine();
        if (status.Streams is null)
        {
            text.AppendLine("live streams: only the running gateway knows them; ask it with --remote (after `jumpgate admin login`)");
            return text.ToString();
        }
        if (status.Streams.Count == 0)
        {
            text.AppendLine("no streams open");
            return text.ToString();
        }
        text.AppendLine($"{"USER",-16} {"HOST:SERVICE",-28} {"AGENT",-16} {"AGE",8} {"TO SERVICE",12} {"TO USER",12}");
        foreach (var stream in status.Streams)
        {
            var age = stream.Since is { } since ? Durations.Humanize(now - since) : "";
            text.AppendLine($"{stream.User,-16} {stream.Host + ":" + stream.Service,-28} {stream.Agent,-16} {age,8} {Bytes(stream.BytesToService),12} {Bytes(stream.BytesToUser),12}");
        }
        return text.ToString();
    }

    private static string Bytes(long count) => count switch
    {
        < 1024 => $"{count} B",
        < 1 << 20 => $"{count / 1024.0:0.#} KiB",
        < 1 << 30 => $"{count / (double)(1 << 20):0.#} MiB",
        _ => $"{count / (double)(1 << 30):0.##} GiB",
    };
}

/// <summary>What `jumpgate status` shows a user (its --json).</summary>
internal sealed record UserStatus(string Gateway, string User, double RoundTripMs, double ConnectMs, IReadOnlyList<HostListing> Hosts);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(UserStatus))]
internal sealed partial class StatusJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>`ls --watch --json`: one document a line, so a script reads each change as it comes.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<HostListing>))]
internal sealed partial class WatchJson : System.Text.Json.Serialization.JsonSerializerContext;
