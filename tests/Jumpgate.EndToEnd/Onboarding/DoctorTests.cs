using System.Text.RegularExpressions;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Onboarding;

/// <summary>
/// `jumpgate doctor` on a laptop that reaches a real gateway on loopback, an agent and a real sshd:
/// all ok, then each failure made on purpose and the line that says what to fix.
/// </summary>
public sealed class DoctorTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Deployment _deployment = null!;
    private Sshd _sshd = null!;
    private TempDirectory _home = null!;

    private string SshConfig => Path.Combine(_home.Path, ".ssh", "config");

    private string Settings => Path.Combine(_deployment.ClientHome, "jumpgate", "config.json");

    public async Task InitializeAsync()
    {
        _deployment = await Deployment.StartAsync(output);
        _sshd = await Sshd.StartAsync(output);
        _home = new TempDirectory("jg-home");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                ssh: {_sshd.Port}
            """);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _sshd.DisposeAsync();
        _home.Dispose();
    }

    [Fact]
    public async Task AllOkOnAWorkingLaptopIncludingARealSshLogin()
    {
        await InstallSshConfigAsync();

        var doctor = await DoctorAsync("--host", "node1");

        Assert.Equal(0, doctor.ExitCode);
        var lines = doctor.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, line => Assert.StartsWith("ok ", line, StringComparison.Ordinal));
        Assert.Contains($"ok    settings: {Settings} (mode 0600)", lines);
        Assert.Contains(lines, l => l.StartsWith($"ok    {_deployment.GatewayUrl} TLS: ", StringComparison.Ordinal) && l.EndsWith($"the pinned certificate {_deployment.Fingerprint}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"ok    {_deployment.GatewayUrl} clock: within ", StringComparison.Ordinal));
        Assert.Contains("ok    token: valid for user researcher, never expires", lines);
        Assert.Contains(lines, l => Regex.IsMatch(l, $@"^ok    ssh -G node1\.jg: ProxyCommand {Regex.Escape(TestSupport.Jumpgate.Executable)} proxy --fdpass %h %p$"));
        Assert.Contains("ok    ssh node1.jg: logged in and ran `true`", lines);
    }

    [Fact]
    public async Task AHostKeySshHasNotSeenNamesTheOneLoginThatAcceptsIt()
    {
        // ssh's default: ask about a new key, which BatchMode cannot answer; and no keys vouched for
        // by the gateway, as for a user whose own block runs another KnownHostsCommand first.
        await InstallSshConfigAsync(hostKeys: "ask", knownHostsCommand: "/bin/true");

        var doctor = await DoctorAsync("--host", "node1");

        Assert.Equal(1, doctor.ExitCode);
        Assert.Contains("logging in: ssh -o BatchMode=yes node1.jg true", doctor.Stderr, StringComparison.Ordinal);
        var line = Assert.Single(doctor.Stdout.Split('\n'), l => l.StartsWith("FAIL", StringComparison.Ordinal));
        Assert.StartsWith("FAIL  ssh node1.jg: ssh does not know node1.jg's host key yet", line, StringComparison.Ordinal);
        Assert.Contains("fix: run `ssh node1.jg` once, compare the key's fingerprint", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonHasOneObjectPerCheckAndAFailureHasItsFix()
    {
        var doctor = await DoctorAsync("--json");

        Assert.Equal(1, doctor.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(doctor.Stdout);
        var failed = json.RootElement.EnumerateArray().Single(c => !c.GetProperty("ok").GetBoolean());
        Assert.Equal("ssh config", failed.GetProperty("check").GetString());
        Assert.Equal($"{SshConfig} has no Jumpgate block", failed.GetProperty("detail").GetString());
        Assert.Equal("run `jumpgate ssh-config --install`", failed.GetProperty("fix").GetString());
    }

    [Fact]
    public async Task AWrongFingerprintIsReportedAsSuch()
    {
        await InstallSshConfigAsync();
        const string other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        var settings = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(Settings))!;
        settings["fingerprint"] = other;
        await File.WriteAllTextAsync(Settings, settings.ToJsonString());

        var doctor = await DoctorAsync();

        Assert.Equal(1, doctor.ExitCode);
        Assert.Contains($"FAIL  {_deployment.GatewayUrl} TLS: the gateway presented certificate {_deployment.Fingerprint}, not the pinned {other}; fix: if the gateway's certificate was replaced, ask its admin for `jumpgate gateway fingerprint`", doctor.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SettingsOthersCanReadAreReportedWithTheChmod()
    {
        await InstallSshConfigAsync();
        File.SetUnixFileMode(Settings, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var doctor = await DoctorAsync();

        Assert.Equal(1, doctor.ExitCode);
        Assert.Contains($"FAIL  settings: {Settings} can be read by other users (mode 0644), and it holds your token; fix: chmod 600 {Settings}\n", doctor.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStoppedGatewayIsReportedUnreachableWithItsAddress()
    {
        await InstallSshConfigAsync();
        await _deployment.Gateway!.DisposeAsync();

        var doctor = await DoctorAsync();

        Assert.Equal(1, doctor.ExitCode);
        var address = new Uri(_deployment.GatewayUrl).Authority;
        Assert.Contains($"FAIL  {_deployment.GatewayUrl} TCP: cannot connect ({address}: Connection refused); fix: is the gateway running", doctor.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATokenThatExpiresWithinAWeekIsReported()
    {
        await InstallSshConfigAsync();
        var token = await _deployment.JumpgateAsync("gateway", "token-add", "user", "researcher", "--expires", "3d", "--dir", _deployment.GatewayDir);
        var login = await _deployment.JumpgateAsync("login", _deployment.GatewayUrl, "--token", token.Stdout.Trim(), "--fingerprint", _deployment.Fingerprint);
        Assert.Equal(0, login.ExitCode);

        var doctor = await DoctorAsync();

        Assert.Equal(1, doctor.ExitCode);
        Assert.Matches(@"(?m)^FAIL  token: valid for user researcher, but it expires in (2|3) d .*; fix: ask the gateway's admin for a new token \(`jumpgate gateway token-add user researcher --expires 90d`\)", doctor.Stdout);
    }

    [Fact]
    public async Task AgentDoctorChecksTheConfigEachGatewayAndEachServiceFromThisMachine()
    {
        var dead = Sshd.FreePort();
        var config = await WriteAgentConfigAsync("doctor.yaml", _deployment.Dir.File("lab-a.token"), dead);

        var doctor = await _deployment.JumpgateAsync("agent", "doctor", "--config", config);

        Assert.Equal(1, doctor.ExitCode);
        var lines = doctor.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains($"ok    config: {config} parses: 1 host(s), 1 gateway(s), a private token file", lines);
        Assert.Contains(lines, l => l.StartsWith($"ok    {_deployment.GatewayUrl} TLS: ", StringComparison.Ordinal) && l.EndsWith($"the pinned certificate {_deployment.Fingerprint}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"ok    {_deployment.GatewayUrl} clock: within ", StringComparison.Ordinal));
        Assert.Contains($"ok    node1:ssh: 127.0.0.1:{_sshd.Port} answers", lines);
        Assert.Contains(lines, l => l.StartsWith($"FAIL  node1:dead: nothing answers at 127.0.0.1:{dead} from this machine (Connection refused); fix: is the service running", StringComparison.Ordinal));
        Assert.Single(lines, l => l.StartsWith("FAIL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AgentDoctorReportsATokenFileOthersCanRead()
    {
        var token = _deployment.Dir.File("open.token");
        File.Copy(_deployment.Dir.File("lab-a.token"), token);
        File.SetUnixFileMode(token, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var config = await WriteAgentConfigAsync("open.yaml", token, Sshd.FreePort());

        var doctor = await _deployment.JumpgateAsync("agent", "doctor", "--config", config);

        Assert.Equal(1, doctor.ExitCode);
        Assert.Contains($"can be read by other users (mode 0644)", doctor.Stdout, StringComparison.Ordinal);
        Assert.Contains($"fix it with `chmod 600 {token}`", doctor.Stdout, StringComparison.Ordinal);
    }

    private async Task<string> WriteAgentConfigAsync(string name, string tokenFile, int deadPort)
    {
        var config = _deployment.Dir.File(name);
        await File.WriteAllTextAsync(config, $"""
            gateway: {_deployment.GatewayUrl}
            fingerprint: {_deployment.Fingerprint}
            token_file: {tokenFile}
            hosts:
              node1:
                address: 127.0.0.1
                services:
                  ssh: {_sshd.Port}
                  dead: {deadPort}
            """);
        return config;
    }


    private async Task InstallSshConfigAsync(string hostKeys = "accept-new", string? knownHostsCommand = null)
    {
        // ssh takes each option's first value, so a line here wins over Jumpgate's block below it.
        var ownCommand = knownHostsCommand is null ? "" : $"    KnownHostsCommand {knownHostsCommand}\n";
        // What a user has beside Jumpgate's block: their key and known hosts (here the test sshd's).
        Directory.CreateDirectory(Path.GetDirectoryName(SshConfig)!);
        await File.WriteAllTextAsync(SshConfig, $"""
            Host *.jg
                User root
                IdentityFile {_sshd.ClientKey}
                IdentitiesOnly yes
                UserKnownHostsFile {_home.File("known_hosts")}
                StrictHostKeyChecking {hostKeys}
            {ownCommand}    LogLevel ERROR

            """);
        var install = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["ssh-config", "--install"], Signals.Timeout(60), Environment(), output: output);
        Assert.Equal(0, install.ExitCode);
    }

    private Task<CommandResult> DoctorAsync(params string[] arguments) =>
        Command.RunAsync(TestSupport.Jumpgate.Executable, ["doctor", .. arguments], Signals.Timeout(90), Environment(), output: output);

    private Dictionary<string, string> Environment() => new(_deployment.ClientEnvironment) { ["HOME"] = _home.Path };
}
