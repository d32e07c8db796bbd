using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Jumpgate.Cli.Fleet;

/// <summary>
/// What `fleet apply` leaves on each host so the hosts can log in to each other, as a multi-node job
/// needs (mpirun starts its daemons over ssh): the fleet key, its public half in authorized_keys, and
/// in <c>~/.jumpgate/fleets/NAME/</c> an ssh config naming every host by its private address with the
/// host keys the laptop recorded, included from <c>~/.ssh/config</c> so that a plain <c>ssh ADDRESS</c> uses it.
/// </summary>
internal static class PeerAccess
{
    /// <summary>Included at the top of ~/.ssh/config: a glob, so one line serves every fleet the host belongs to.</summary>
    public const string Include = "Include ~/.jumpgate/fleets/*/ssh_config";

    /// <summary>The host's folder for a fleet, as the shell on the host spells it.</summary>
    public static string RemoteFolder(string fleet) => $"$HOME/.jumpgate/fleets/{fleet}";

    /// <summary>Creates the fleet key on the laptop the first time; later applies install the same key.</summary>
    public static async Task EnsureKeyAsync(string path, string fleet, CancellationToken cancellationToken)
    {
        if (File.Exists(path) && File.Exists(path + ".pub"))
        {
            return;
        }
        File.Delete(path);
        File.Delete(path + ".pub");
        var start = new ProcessStartInfo("ssh-keygen") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-q", "-t", "ed25519", "-N", "", "-C", $"jumpgate-fleet-{fleet}", "-f", path })
        {
            start.ArgumentList.Add(argument);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            throw new Client.CliException($"cannot run ssh-keygen ({e.Message}); fleets need OpenSSH's client tools on the PATH");
        }
        using (process)
        {
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new Client.CliException($"ssh-keygen could not create the fleet key {path}: {(await errors).Trim()}");
            }
        }
    }

    /// <summary>
    /// The hosts' own ssh config: each host by its private address, logged in to as the fleet file says,
    /// with the fleet key, checked against the keys the laptop recorded (under the fleet file's names).
    /// </summary>
    public static string Config(string fleet, IReadOnlyList<HostState> hosts)
    {
        var folder = $"~/.jumpgate/fleets/{fleet}";
        var text = new StringBuilder();
        text.AppendLine($"# Written by `jumpgate fleet apply` for fleet {fleet}, rewritten on every apply:");
        text.AppendLine("# the fleet's hosts by their private addresses, so that each can reach the others.");
        foreach (var host in hosts.Where(h => h.Address is not null))
        {
            text.AppendLine($"Host {host.Address}");
            text.AppendLine($"    HostKeyAlias {host.Name}");
            if (host.User is not null)
            {
                text.AppendLine($"    User {host.User}");
            }
            if (host.Port is not null)
            {
                text.AppendLine($"    Port {host.Port}");
            }
        }
        text.AppendLine($"Host {string.Join(' ', hosts.Select(h => h.Address).OfType<string>().Distinct())}");
        text.AppendLine($"    IdentityFile {folder}/id_ed25519");
        text.AppendLine("    IdentitiesOnly yes");
        text.AppendLine($"    UserKnownHostsFile {folder}/known_hosts");
        // The keys were recorded when the laptop reached each host; a host the laptop never reached is not trusted.
        text.AppendLine("    StrictHostKeyChecking yes");
        text.AppendLine("    BatchMode yes");
        return text.ToString();
    }

    /// <summary>
    /// POSIX sh, read from stdin (the private key is never an argument): writes the fleet's files, adds
    /// the key to authorized_keys and the include to ~/.ssh/config once, so applying again changes nothing.
    /// </summary>
    public static string Script(string fleet, string privateKey, string publicKey, IReadOnlyList<string> knownHosts, string config)
    {
        var text = new StringBuilder();
        text.Append($"""
            set -e
            umask 077
            dir="{RemoteFolder(fleet)}"
            mkdir -p "$dir" "$HOME/.ssh"

            """);
        WriteFile(text, "id_ed25519", privateKey);
        WriteFile(text, "known_hosts", string.Concat(knownHosts.Select(line => line + "\n")));
        WriteFile(text, "ssh_config", config);
        text.Append($$"""
            key='{{publicKey.Trim()}}'
            touch "$HOME/.ssh/authorized_keys"
            grep -qxF "$key" "$HOME/.ssh/authorized_keys" || printf '%s\n' "$key" >> "$HOME/.ssh/authorized_keys"
            include='{{Include}}'
            if ! grep -qxF "$include" "$HOME/.ssh/config" 2>/dev/null; then
              # First in the file: an Include after a Host line would apply to that host only.
              { printf '# Added by jumpgate fleet apply: the hosts of each fleet by their private addresses.\n%s\n\n' "$include"
                cat "$HOME/.ssh/config" 2>/dev/null || true; } > "$HOME/.ssh/config.jumpgate-new"
              mv -f "$HOME/.ssh/config.jumpgate-new" "$HOME/.ssh/config"
            fi

            """);
        return text.ToString();
    }

    /// <summary>A file written whole, then renamed, so a host never holds half a key or half a config.</summary>
    private static void WriteFile(StringBuilder text, string name, string content)
    {
        text.Append($"""
            cat > "$dir/{name}.new" <<'JUMPGATE_END'
            {content.TrimEnd('\n')}
            JUMPGATE_END
            mv -f "$dir/{name}.new" "$dir/{name}"

            """);
    }
}
