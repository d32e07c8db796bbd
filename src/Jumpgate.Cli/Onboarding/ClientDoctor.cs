using System.Globalization;
using Jumpgate.Cli.Client;
using Jumpgate.Cli.Commands;
using Jumpgate.Core.Config;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// `jumpgate doctor`: the laptop's side, in the order a connection needs it: the saved login, each
/// gateway (<see cref="GatewayProbe"/>), the token, the ssh config, and what ssh makes of a host.
/// </summary>
internal sealed class ClientDoctor(string sshConfig, string? host)
{
    /// <summary>A token that expires sooner than this is reported, so it is renewed before it stops working.</summary>
    public static readonly TimeSpan ExpiryWarning = TimeSpan.FromDays(7);

    /// <summary>How long the real `ssh HOST.jg true` may take, login included.</summary>
    public static readonly TimeSpan SshTimeout = TimeSpan.FromSeconds(30);

    public async Task RunAsync(DoctorChecks checks, CancellationToken cancellationToken)
    {
        if (Settings(checks) is { } settings)
        {
            await GatewaysAsync(settings, checks, cancellationToken);
        }
        var blockOk = SshBlock(checks);
        if (blockOk)
        {
            await SshResolvesAsync(checks, cancellationToken);
            if (host is not null && checks.All(c => c.Ok))
            {
                await SshConnectsAsync(checks, cancellationToken);
            }
            else if (host is not null)
            {
                checks.Add(DoctorCheck.Fail($"ssh {host}{ClientCommands.HostSuffix}", "not tried: a check above failed, and the login would fail for the same reason", "fix the failures above, then run doctor again"));
            }
        }
    }

    private static ClientSettings? Settings(DoctorChecks checks)
    {
        const string check = "settings";
        var path = ClientSettings.FilePath;
        ClientSettings settings;
        try
        {
            settings = ClientSettings.Load();
        }
        catch (CliException e)
        {
            checks.Add(DoctorCheck.Fail(check, e.Message.Split("; ")[0], "run `jumpgate login https://GATEWAY --token-file TOKEN --fingerprint FINGERPRINT` with what the gateway's admin gave you"));
            return null;
        }
        if (PrivateFile.Exposure(path, ", and it holds your token") is { } exposure)
        {
            checks.Add(DoctorCheck.Fail(check, exposure[..exposure.IndexOf("; fix it with", StringComparison.Ordinal)], $"chmod 600 {path}"));
        }
        else
        {
            checks.Add(DoctorCheck.Pass(check, $"{path} (mode 0600)"));
        }
        return settings;
    }

    private static async Task GatewaysAsync(ClientSettings settings, DoctorChecks checks, CancellationToken cancellationToken)
    {
        foreach (var gateway in settings.Endpoints())
        {
            if (!await GatewayProbe.RunAsync(gateway, checks, cancellationToken))
            {
                continue;
            }
            // The token is one for all the gateways (they share a store): told once.
            var me = await GatewayProbe.WhoAmIAsync(gateway, settings.Token, checks, cancellationToken);
            if (me is null || checks.Any(c => c.Check == "token"))
            {
                continue;
            }
            var left = me.TokenExpires - DateTimeOffset.UtcNow;
            checks.Add(left is { } l && l < ExpiryWarning
                ? DoctorCheck.Fail("token", $"valid for user {me.User}, but it expires in {Durations.Humanize(l)} ({me.TokenExpires:u})",
                    "ask the gateway's admin for a new token (`jumpgate gateway token-add user " + me.User + " --expires 90d`), then `jumpgate login` again")
                : DoctorCheck.Pass("token", $"valid for user {me.User}{(me.TokenExpires is { } at ? ", until " + at.ToString("u", CultureInfo.InvariantCulture) : ", never expires")}"));
        }
    }

    private bool SshBlock(DoctorChecks checks)
    {
        const string check = "ssh config";
        var installed = SshConfigFile.Installed(sshConfig);
        if (installed is null)
        {
            checks.Add(DoctorCheck.Fail(check, $"{sshConfig} has no Jumpgate block", "run `jumpgate ssh-config --install`"));
            return false;
        }
        var self = ClientCommands.SelfCommand();
        if (!installed.Contains($"ProxyCommand {self} proxy ", StringComparison.Ordinal))
        {
            var line = installed.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith("ProxyCommand", StringComparison.Ordinal))?.Trim() ?? "no ProxyCommand";
            checks.Add(DoctorCheck.Fail(check, $"the Jumpgate block in {sshConfig} runs another program ({line}), not this one ({self})",
                "run `jumpgate ssh-config --install` with the jumpgate you mean to use"));
            return false;
        }
        checks.Add(DoctorCheck.Pass(check, $"{sshConfig} sends *{ClientCommands.HostSuffix} through {self}"));
        return true;
    }

    private async Task SshResolvesAsync(DoctorChecks checks, CancellationToken cancellationToken)
    {
        var name = (host ?? "node1") + ClientCommands.HostSuffix;
        var check = $"ssh -G {name}";
        var result = await RunSshAsync(["-G", name], cancellationToken);
        if (result is null)
        {
            checks.Add(DoctorCheck.Fail(check, "ssh is not installed here", "install the OpenSSH client (`apt install openssh-client`)"));
            return;
        }
        var proxy = result.Value.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("proxycommand ", StringComparison.Ordinal))?["proxycommand ".Length..].Trim();
        if (result.Value.ExitCode != 0 || proxy is null || !proxy.Contains(" proxy ", StringComparison.Ordinal) || !proxy.Contains(ClientCommands.SelfCommand(), StringComparison.Ordinal))
        {
            checks.Add(DoctorCheck.Fail(check, proxy is null ? $"ssh gives {name} no ProxyCommand{Tail(result.Value.Stderr)}" : $"ssh gives {name} ProxyCommand {proxy}",
                $"an earlier Host or Match block in {sshConfig} (ssh takes the first value it finds) sets ProxyCommand for {name}; move the Jumpgate block above it"));
            return;
        }
        checks.Add(DoctorCheck.Pass(check, $"ProxyCommand {proxy}"));
    }

    private async Task SshConnectsAsync(DoctorChecks checks, CancellationToken cancellationToken)
    {
        var name = host + ClientCommands.HostSuffix;
        var check = $"ssh {name}";
        checks.Progress($"logging in: ssh -o BatchMode=yes {name} true (up to {SshTimeout.TotalSeconds:0} s)");
        var result = await RunSshAsync(["-o", "BatchMode=yes", "-o", $"ConnectTimeout={(int)SshTimeout.TotalSeconds}", name, "true"], cancellationToken);
        checks.Add(result switch
        {
            { ExitCode: 0 } => DoctorCheck.Pass(check, "logged in and ran `true`"),
            // BatchMode cannot answer ssh's question about a key it has not seen: the user answers it once.
            { Stderr: var stderr } when stderr.Contains("Host key verification failed", StringComparison.Ordinal) => DoctorCheck.Fail(check,
                $"ssh does not know {name}'s host key yet{Tail(stderr)}",
                $"run `ssh {name}` once, compare the key's fingerprint it shows with the host's (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` there) and answer yes"),
            _ => DoctorCheck.Fail(check, $"ssh exited {result?.ExitCode}{Tail(result?.Stderr ?? "")}",
                "`jumpgate ls` shows whether the host is online and yours; a 'Permission denied' is the host's own sshd (your key in its authorized_keys, the right User)"),
        });
    }

    /// <summary>
    /// The system's ssh with <c>-F</c> the checked file: ssh finds ~/.ssh/config through the password
    /// database, not $HOME, and the user's file is read before the system's anyway, so its first values are what counts.
    /// </summary>
    private async Task<(int ExitCode, string Stdout, string Stderr)?> RunSshAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new System.Diagnostics.ProcessStartInfo("ssh") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add("-F");
        start.ArgumentList.Add(sshConfig);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        System.Diagnostics.Process process;
        try
        {
            process = System.Diagnostics.Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(SshTimeout + TimeSpan.FromSeconds(5));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
            return (process.ExitCode, await stdout, await stderr);
        }
    }

    private static string Tail(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } lines ? $" ({lines[^1]})" : "";
}
