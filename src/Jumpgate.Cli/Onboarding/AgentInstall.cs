using System.Diagnostics;
using System.Text.RegularExpressions;
using Jumpgate.Cli.Client;

namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// `jumpgate agent install`: the agent as the systemd service deploy/systemd ships. Its token is
/// copied to /etc/jumpgate/agent.token (root's, 0600) and systemd hands the service a copy only it
/// can read (LoadCredential), so agent.yaml's token_file is rewritten to name that copy.
/// </summary>
internal static partial class AgentInstall
{
    public const string UnitName = "jumpgate-agent.service";
    public const string UnitPath = "/etc/systemd/system/" + UnitName;
    public const string ConfigPath = "/etc/jumpgate/agent.yaml";
    public const string TokenPath = "/etc/jumpgate/agent.token";
    public const string CredentialPath = "/run/credentials/" + UnitName + "/agent.token";

    /// <summary>The program the unit's ExecStart runs.</summary>
    public const string Program = "/usr/local/bin/jumpgate";

    /// <summary>deploy/systemd/jumpgate-agent.service, embedded at build time.</summary>
    public static string Unit()
    {
        using var stream = typeof(AgentInstall).Assembly.GetManifestResourceStream(UnitName)
            ?? throw new InvalidOperationException($"the {UnitName} resource is missing from this build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>agent.yaml as the service reads it: token_file names systemd's copy of the token.</summary>
    public static string ServiceConfig(string config) => TokenFileLine().Replace(config, $"token_file: {CredentialPath}");

    /// <summary>Whether this machine runs systemd (the test sd_booted uses) and we are root, so we may install.</summary>
    public static bool CanInstall => Environment.IsPrivilegedProcess && Directory.Exists("/run/systemd/system");

    /// <summary>A shell script that does what <see cref="InstallAsync"/> does, for an admin to read and run.</summary>
    public static string Script(string tokenFile, string config) => $"""
        sudo install -d -m 0755 /etc/jumpgate
        sudo install -m 0600 -o root -g root {Quote(Path.GetFullPath(tokenFile))} {TokenPath}
        sudo tee {ConfigPath} > /dev/null <<'EOF'
        {ServiceConfig(config).TrimEnd('\n')}
        EOF
        sudo tee {UnitPath} > /dev/null <<'EOF'
        {Unit().TrimEnd('\n')}
        EOF
        [ -x {Program} ] || sudo install -m 0755 {Quote(Environment.ProcessPath ?? "jumpgate")} {Program}
        sudo systemctl daemon-reload
        sudo systemctl enable --now {UnitName}

        """;

    public static async Task InstallAsync(string tokenFile, string config, CancellationToken cancellationToken)
    {
        if (!File.Exists(Program))
        {
            throw new CliException($"the unit runs {Program}, which does not exist; install the jumpgate binary there first (`install -m 0755 jumpgate {Program}`)");
        }
        const UnixFileMode rw = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Directory.CreateDirectory("/etc/jumpgate");
        File.Copy(tokenFile, TokenPath + ".tmp", overwrite: true);
        File.SetUnixFileMode(TokenPath + ".tmp", rw);
        File.Move(TokenPath + ".tmp", TokenPath, overwrite: true);
        await File.WriteAllTextAsync(ConfigPath, ServiceConfig(config), cancellationToken);
        await File.WriteAllTextAsync(UnitPath, Unit(), cancellationToken);
        await SystemctlAsync(["daemon-reload"], cancellationToken);
        await SystemctlAsync(["enable", "--now", UnitName], cancellationToken);
    }

    private static async Task SystemctlAsync(string[] arguments, CancellationToken cancellationToken)
    {
        using var process = Process.Start("systemctl", arguments);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new CliException($"systemctl {string.Join(' ', arguments)} exited {process.ExitCode}; `journalctl -u {UnitName}` says why");
        }
    }

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [GeneratedRegex(@"(?m)^token_file:.*$")]
    private static partial Regex TokenFileLine();
}
