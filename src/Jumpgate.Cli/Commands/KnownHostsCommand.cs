using System.CommandLine;
using System.Text;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary>
/// <c>jumpgate known-hosts HOST</c>: known_hosts lines for a host's SSH host keys, as the gateway
/// vouches for them, for OpenSSH's <c>KnownHostsCommand</c> (OpenSSH 8.5 and later). ssh runs it
/// on every connection, twice (once to order its key algorithms, once to check the key), so the
/// gateway's answer is kept for the same ssh process (the parent) for <see cref="Fresh"/>, and its
/// second run reads it from a file; another ssh asks the gateway again.
/// Anything wrong goes to stderr, and a host the gateway holds no keys for gets nothing on
/// stdout, so ssh treats it as unknown.
/// </summary>
internal static class KnownHostsCommand
{
    /// <summary>Long enough to cover one ssh's two runs on a loaded machine.</summary>
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(30);

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
            var settings = ClientSettings.Load();
            var kept = Path.Combine(ClientSettings.Directory, "host-keys", bare);
            // Kept for this parent (one ssh) and this login's gateway only: the next ssh sees an admin's accept at once.
            var owner = $"{settings.Gateway} {ParentProcess()}";
            var keys = Recent(kept, owner);
            if (keys is null)
            {
                using var api = GatewayApi.FromSettings(settings);
                var answer = await api.HostKeysAsync(bare, cancellationToken);
                if (answer.Note is { } note)
                {
                    Console.Error.WriteLine($"jumpgate: {note}");
                }
                keys = answer.Keys;
                if (keys.Count > 0)
                {
                    ClientSettings.WritePrivate(kept, stream => stream.Write(Encoding.UTF8.GetBytes(string.Join('\n', [owner, .. keys]))));
                }
            }
            var lines = new StringBuilder();
            foreach (var text in keys)
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

    /// <summary>The parent's process id, from /proc (Linux).</summary>
    private static string ParentProcess()
    {
        try
        {
            // /proc/self/stat: "PID (COMMAND) STATE PPID …"; the command may hold spaces and parentheses, so read after the last ')'.
            var stat = File.ReadAllText("/proc/self/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            // No /proc (macOS): a fresh name that no earlier run wrote, so every run asks the gateway.
            return Guid.NewGuid().ToString("N");
        }
    }

    /// <summary>The keys <paramref name="owner"/> (this parent, this login's gateway) was given within <see cref="Fresh"/>, or null.</summary>
    private static IReadOnlyList<string>? Recent(string path, string owner)
    {
        try
        {
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > Fresh)
            {
                return null;
            }
            var lines = File.ReadAllText(path).Split('\n');
            return lines.Length > 1 && lines[0] == owner ? lines[1..] : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing kept (or unreadable): ask the gateway.
            return null;
        }
    }
}
