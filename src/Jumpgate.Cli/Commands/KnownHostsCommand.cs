using System.CommandLine;
using System.Text;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary>
/// <c>jumpgate known-hosts HOST</c>: known_hosts lines for a host's SSH host keys, as the gateway
/// vouches for them, for OpenSSH's <c>KnownHostsCommand</c> (OpenSSH 8.5 and later). ssh runs it
/// on every connection, so it asks one question and prints; anything wrong goes to stderr, and a
/// host the gateway holds no keys for gets nothing on stdout, so ssh treats it as unknown.
/// </summary>
internal static class KnownHostsCommand
{
    public static Command Create()
    {
        var host = new Argument<string>("host") { Description = "The host as ssh looks it up in known_hosts (its %H), e.g. node1.jg" };
        var command = new Command("known-hosts", Options.Describe(
            "Print known_hosts lines for a host's SSH host keys as the gateway vouches for them: its agent read them from the host's side of the network. OpenSSH runs it as KnownHostsCommand, which `jumpgate ssh-config` writes, so the first `ssh HOST.jg` is verified too.",
            "jumpgate known-hosts node1.jg",
            "ssh -o 'KnownHostsCommand jumpgate known-hosts %H' -o StrictHostKeyChecking=yes node1.jg true"))
        {
            host,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var name = result.GetValue(host)!;
            var bare = TunnelCommands.StripSuffix(name);
            // ssh names a host on another port [HOST]:PORT; the gateway vouches for the ssh service (port 22) only.
            if (!Names.IsValid(bare))
            {
                return 0;
            }
            using var api = GatewayApi.FromSettings(ClientSettings.Load());
            var answer = await api.HostKeysAsync(bare, cancellationToken);
            if (answer.Note is { } note)
            {
                Console.Error.WriteLine($"jumpgate: {note}");
            }
            var lines = new StringBuilder();
            foreach (var text in answer.Keys)
            {
                // Only what parses as a key reaches ssh: a line the gateway sent could otherwise carry a known_hosts marker such as @cert-authority.
                if (SshHostKey.TryParse(text, out var key))
                {
                    lines.Append(name).Append(' ').Append(key).Append('\n');
                }
            }
            Console.Out.Write(lines.ToString());
            return 0;
        });
        return command;
    }
}
