using System.CommandLine;
using System.Text.Json;
using Jumpgate.Core.Api;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway host-keys [accept HOST]</c>: the SSH host keys the gateway vouches for, and accepting a changed one.</summary>
internal static class GatewayHostKeyCommands
{
    public static Command Create()
    {
        var json = Options.Json();
        var command = new Command("host-keys", AdminTarget.Describe(
            "List the SSH host keys the gateway vouches for to ssh users (`jumpgate known-hosts`), as each host's agent read them, and the changed keys an agent read since, which are vouched for only once accepted.",
            "jumpgate gateway host-keys --dir ./gw",
            "jumpgate gateway host-keys accept node1 --dir ./gw"))
        {
            json, Accept(),
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var rows = await admin.HostKeysAsync(cancellationToken);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize([.. rows], AdminJson.Default.ListHostKeyView));
                return 0;
            }
            if (rows.Count == 0)
            {
                Console.Error.WriteLine("no host keys yet: an agent sends them for each host with an ssh service when it connects");
                return 0;
            }
            Console.WriteLine($"{"HOST",-24} {"KEYS",-60} RECORDED");
            foreach (var row in rows)
            {
                Print(row.Host, row.Keys, $"{row.Recorded.ToLocalTime():yyyy-MM-dd HH:mm} from {row.Agent}");
                if (row.Pending is { } pending)
                {
                    Print("  CHANGED, not vouched", pending, $"{row.PendingSince?.ToLocalTime():yyyy-MM-dd HH:mm} from {row.PendingAgent}; accept: jumpgate gateway host-keys accept {row.Host}");
                }
            }
            return 0;
        });
        return command;
    }

    private static Command Accept()
    {
        var host = new Argument<string>("host") { Description = "The host whose changed keys to vouch for from now on" };
        var command = new Command("accept", AdminTarget.Describe(
            "Vouch for the changed SSH host keys an agent read from a host (after a reinstall or a new host key), in place of the recorded ones. Check first that the change is yours: a key that changed behind the agent is what an attacker on the host's network would cause.",
            "jumpgate gateway host-keys accept node1 --dir ./gw"))
        {
            host,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var accepted = await admin.AcceptHostKeysAsync(result.GetValue(host)!, cancellationToken);
            Console.Error.WriteLine($"the gateway now vouches for these host keys of {accepted.Host}: {string.Join(", ", Fingerprints(accepted.Keys))}");
            return 0;
        });
        return command;
    }

    private static void Print(string label, IReadOnlyList<string> keys, string when)
    {
        var fingerprints = Fingerprints(keys);
        for (var i = 0; i < fingerprints.Count; i++)
        {
            Console.WriteLine($"{(i == 0 ? label : ""),-24} {fingerprints[i],-60} {(i == 0 ? when : "")}");
        }
    }

    private static List<string> Fingerprints(IReadOnlyList<string> keys) =>
        [.. keys.Select(k => SshHostKey.TryParse(k, out var key) ? key.Describe() : "(not a key)")];
}
