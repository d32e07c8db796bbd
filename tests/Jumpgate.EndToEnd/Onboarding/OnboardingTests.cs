using System.Text;
using System.Text.RegularExpressions;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Onboarding;

/// <summary>An admin's and a user's first commands: what init tells them to type, the agent.yaml it prints, the ssh config it installs.</summary>
public sealed class OnboardingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task InitEndsWithTheNextCommandsFilledInWithThisGatewaysAddressAndFingerprint()
    {
        using var dir = new TempDirectory("jg-init");
        var gw = dir.File("gw");

        var init = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "init", "--dir", gw, "--listen", "127.0.0.1:7443"], Signals.Timeout(60), output: output);

        Assert.Equal(0, init.ExitCode);
        var fingerprint = init.Stdout.Trim();
        Assert.Matches("^SHA256:[A-Za-z0-9+/]{43}$", fingerprint);
        Assert.Contains($"jumpgate gateway run --dir {gw}\n", init.Stderr, StringComparison.Ordinal);
        Assert.Contains($"jumpgate gateway add-agent lab-a --hosts 'node*' --dir {gw} -o lab-a.token --print-config > agent.yaml", init.Stderr, StringComparison.Ordinal);
        Assert.Contains($"jumpgate gateway add-user alice --dir {gw} -o alice.token\n", init.Stderr, StringComparison.Ordinal);
        Assert.Contains($"jumpgate login https://127.0.0.1:7443 --token-file alice.token --fingerprint {fingerprint} --ssh-config\n", init.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InitWithAUserWritesTheirTokenAndPrintsTheLoginLineThatUsesIt()
    {
        using var dir = new TempDirectory("jg-init-user");
        var gw = dir.File("gw");
        var tokenFile = dir.File("me.token");

        var init = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "init", "--dir", gw, "--listen", "127.0.0.1:7443", "--user", "alice", "-o", tokenFile], Signals.Timeout(60), output: output);

        Assert.Equal(0, init.ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        Assert.StartsWith("jgu_", await File.ReadAllTextAsync(tokenFile), StringComparison.Ordinal);
        Assert.Contains($"jumpgate login https://127.0.0.1:7443 --token-file {tokenFile} --fingerprint {init.Stdout.Trim()} --ssh-config\n", init.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("gateway add-user alice", init.Stderr, StringComparison.Ordinal);
        var users = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "users", "--dir", gw], Signals.Timeout(60), output: output);
        Assert.Matches(@"(?m)^alice\b", users.Stdout);
    }

    [Fact]
    public async Task InitRefusesAnExistingTokenFileBeforeMakingTheGateway()
    {
        using var dir = new TempDirectory("jg-init-taken");
        var gw = dir.File("gw");
        var tokenFile = dir.File("alice.token");
        await File.WriteAllTextAsync(tokenFile, "keep me\n");

        var init = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "init", "--dir", gw, "--user", "alice", "-o", tokenFile], Signals.Timeout(60), output: output);

        Assert.Equal(1, init.ExitCode);
        Assert.Contains($"{tokenFile} already exists; give another file with -o", init.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(gw));
        Assert.Equal("keep me\n", await File.ReadAllTextAsync(tokenFile));
    }

    [Fact]
    public async Task AddAgentPrintsAnAgentYamlThatARealAgentRunsAsPrinted()
    {
        await using var deployment = await Deployment.StartAsync(output);
        var tokenFile = deployment.Dir.File("lab-p.token");

        var added = await deployment.JumpgateAsync("gateway", "add-agent", "lab-p", "--hosts", "node*,lab-pc", "--dir", deployment.GatewayDir, "-o", tokenFile, "--print-config");

        Assert.Equal(0, added.ExitCode);
        Assert.Contains($"gateway: {deployment.GatewayUrl}\n", added.Stdout, StringComparison.Ordinal);
        Assert.Contains($"fingerprint: {deployment.Fingerprint}\n", added.Stdout, StringComparison.Ordinal);
        Assert.Contains($"token_file: {tokenFile}\n", added.Stdout, StringComparison.Ordinal);
        Assert.Contains("  node1:\n    address: 127.0.0.1\n    services:\n      ssh: 22\n", added.Stdout, StringComparison.Ordinal);
        Assert.Contains("  lab-pc:\n", added.Stdout, StringComparison.Ordinal);
        // The agent reads the file exactly as printed (StartAgentAsync keeps an existing NAME.yaml).
        await File.WriteAllTextAsync(deployment.Dir.File("lab-p.yaml"), added.Stdout);
        await deployment.StartAgentAsync("lab-p", "");

        var hosts = await deployment.JumpgateAsync("ls");
        Assert.Matches(@"(?m)^node1\s+online\s+lab-p\s+ssh$", hosts.Stdout);
        Assert.Matches(@"(?m)^lab-pc\s+online\s+lab-p\s+ssh$", hosts.Stdout);
    }

    [Fact]
    public async Task PrintConfigWithoutATokenFileIsRefusedBeforeAnAgentIsAdded()
    {
        await using var deployment = await Deployment.StartAsync(output);

        var refused = await deployment.JumpgateAsync("gateway", "add-agent", "lab-q", "--hosts", "node*", "--dir", deployment.GatewayDir, "--print-config");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--print-config needs -o TOKENFILE", refused.Stderr, StringComparison.Ordinal);
        var agents = await deployment.JumpgateAsync("gateway", "agents", "--dir", deployment.GatewayDir);
        Assert.DoesNotContain("lab-q", agents.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SshConfigInstallCreatesThePrivateFileAndSshSendsJgHostsThroughJumpgate()
    {
        using var home = new TempDirectory("jg-home");
        var config = Path.Combine(home.Path, ".ssh", "config");

        var installed = await InstallAsync(home);

        Assert.Equal(0, installed.ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(config)!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config));
        // ssh finds ~/.ssh/config through the password database, not $HOME: -F names the file. -G leaves %h unexpanded.
        var resolved = await Command.RunAsync("ssh", ["-F", config, "-G", "node1.jg"], Signals.Timeout(60), output: output);
        Assert.Matches($@"(?m)^proxycommand {Regex.Escape(TestSupport.Jumpgate.Executable)} proxy --fdpass %h %p$", resolved.Stdout);
    }

    [Fact]
    public async Task SshConfigInstallKeepsTheUsersBytesKeepsABackupAndChangesNothingTheSecondTime()
    {
        using var home = new TempDirectory("jg-home");
        Directory.CreateDirectory(Path.Combine(home.Path, ".ssh"));
        var config = Path.Combine(home.Path, ".ssh", "config");
        // A hand-written file: CRLF, a Latin-1 byte that is not UTF-8, tabs, and no newline at the end.
        byte[] mine = [.. Encoding.ASCII.GetBytes("Host lab\r\n\tHostName 10.0.0.5\r\n# caf"), 0xE9, .. Encoding.ASCII.GetBytes("\nHost *\n    User me")];
        await File.WriteAllBytesAsync(config, mine);
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        var first = await InstallAsync(home);
        var afterFirst = await File.ReadAllBytesAsync(config);
        var second = await InstallAsync(home);

        Assert.Equal(0, first.ExitCode);
        Assert.Contains("added the Jumpgate block", first.Stderr, StringComparison.Ordinal);
        Assert.Equal(mine, afterFirst[..mine.Length]);
        Assert.Equal(mine, await File.ReadAllBytesAsync(config + ".jumpgate-backup"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(config));
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("nothing changed", second.Stderr, StringComparison.Ordinal);
        Assert.Equal(afterFirst, await File.ReadAllBytesAsync(config));
        Assert.Equal(mine, await File.ReadAllBytesAsync(config + ".jumpgate-backup"));

        // Lines added after the block by hand stay where they are when the block is updated (here to --direct).
        await File.AppendAllTextAsync(config, "Host after\n    Port 2222\n");
        var withAfter = await File.ReadAllBytesAsync(config);
        var direct = await InstallAsync(home, "--direct");
        var updated = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(config));
        Assert.Contains("updated the Jumpgate block", direct.Stderr, StringComparison.Ordinal);
        Assert.StartsWith(Encoding.Latin1.GetString(mine), updated, StringComparison.Ordinal);
        Assert.EndsWith("# <<< jumpgate <<<\nHost after\n    Port 2222\n", updated, StringComparison.Ordinal);
        Assert.Contains(" proxy --fdpass --direct %h %p", updated, StringComparison.Ordinal);
        Assert.Equal(withAfter, await File.ReadAllBytesAsync(config + ".jumpgate-backup"));
    }

    private Task<CommandResult> InstallAsync(TempDirectory home, params string[] extra) =>
        Command.RunAsync(TestSupport.Jumpgate.Executable, ["ssh-config", "--install", .. extra], Signals.Timeout(60), new Dictionary<string, string> { ["HOME"] = home.Path }, output: output);
}
