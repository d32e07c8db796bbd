using System.Text.RegularExpressions;
using Jumpgate.Core.Security;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Config;

/// <summary>
/// Secrets at rest: every file that holds a token or key is its owner's alone (mode 0600) from
/// its first byte, under the usual umask 022, and the agent refuses a token file others can read,
/// as OpenSSH refuses a private key. Every program runs under `umask 022`, so a file created with
/// the default mode would be 0644 whatever the test runner's umask is.
/// </summary>
public sealed class SecretFileTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>Runs the rest of the command line under the umask most systems give their users.</summary>
    private const string UnderUsualUmask = "umask 022 && exec \"$0\" \"$@\"";

    private const string ForgedAgentToken = "jga_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    private readonly TempDirectory _dir = new("jg-secrets");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AgentRefusesATokenFileOthersCanReadAndNamesTheChmod()
    {
        var tokenFile = _dir.File("lab-a.token");
        await File.WriteAllTextAsync(tokenFile, ForgedAgentToken);
        File.SetUnixFileMode(tokenFile, (UnixFileMode)Convert.ToInt32("644", 8));
        var config = _dir.File("agent.yaml");
        await File.WriteAllTextAsync(config, $"""
            gateway: https://127.0.0.1:9
            token_file: {tokenFile}
            hosts:
              node1:
                address: 127.0.0.1
                services:
                  ssh: 22
            """);

        var result = await JumpgateAsync(["agent", "run", "--config", config]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{config}:2:13: token_file: {tokenFile} can be read by other users (mode 0644)", result.Stderr);
        Assert.Contains($"fix it with `chmod 600 {tokenFile}`", result.Stderr);
        Assert.DoesNotContain(ForgedAgentToken, result.Stderr + result.Stdout);
        Assert.DoesNotContain("connecting", result.Stderr);
    }

    [Theory]
    [InlineData("jga_", "add-agent", "lab-a", "--hosts", "node*")]
    [InlineData("jgu_", "add-user", "alice")]
    [InlineData("jgx_", "add-admin", "root")]
    [InlineData("jgu_", "token-add", "user", "researcher", "--expires", "30d")]
    public async Task IssuedTokensGoToAFileOnlyTheirOwnerCanRead(string prefix, params string[] command)
    {
        var gateway = await InitAsync();
        await JumpgateAsync(["gateway", "add-user", "researcher", "--dir", gateway]);
        var tokenFile = _dir.File("issued.token");

        var result = await JumpgateAsync(["gateway", .. command, "--dir", gateway, "-o", tokenFile]);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains($"token written to {tokenFile} (mode 0600)", result.Stderr);
        AssertOwnerOnly(tokenFile);
        Assert.Matches($"^{prefix}[0-9a-f]{{12}}_[A-Za-z0-9_-]{{43}}\n$", await File.ReadAllTextAsync(tokenFile));
    }

    [Fact]
    public async Task OutputRefusesAnExistingFileAndIssuesNothingUnlessForced()
    {
        var gateway = await InitAsync();
        var tokenFile = _dir.File("lab-a.token");
        await File.WriteAllTextAsync(tokenFile, "keep me\n");

        var refused = await JumpgateAsync(["gateway", "add-agent", "lab-a", "--hosts", "node*", "--dir", gateway, "-o", tokenFile]);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"{tokenFile} already exists; give --force to replace it", refused.Stderr);
        Assert.Equal("keep me\n", await File.ReadAllTextAsync(tokenFile));
        // Refused before the store was touched: no agent whose only token went nowhere.
        Assert.DoesNotContain("lab-a", (await JumpgateAsync(["gateway", "agents", "--dir", gateway])).Stdout);

        File.SetUnixFileMode(tokenFile, (UnixFileMode)Convert.ToInt32("644", 8));
        var forced = await JumpgateAsync(["gateway", "add-agent", "lab-a", "--hosts", "node*", "--dir", gateway, "-o", tokenFile, "--force"]);

        Assert.Equal(0, forced.ExitCode);
        Assert.StartsWith("jga_", await File.ReadAllTextAsync(tokenFile), StringComparison.Ordinal);
        AssertOwnerOnly(tokenFile);
        Assert.Equal(["gateway", "lab-a.token"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task WithoutOutputTheTokenIsPrintedAsBefore()
    {
        var gateway = await InitAsync();

        var result = await JumpgateAsync(["gateway", "add-agent", "lab-a", "--hosts", "node*", "--dir", gateway]);

        Assert.Equal(0, result.ExitCode);
        Assert.Matches("^jga_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n$", result.Stdout);
    }

    [Fact]
    public async Task LoginWarnsAboutATokenFileOthersCanReadAndSavesItOwnerOnly()
    {
        await using var deployment = await Deployment.StartAsync(output);
        var tokenFile = deployment.Dir.File("researcher.token");
        await File.WriteAllTextAsync(tokenFile, deployment.UserToken);
        File.SetUnixFileMode(tokenFile, (UnixFileMode)Convert.ToInt32("644", 8));
        var settings = Path.Combine(deployment.ClientHome, "jumpgate");
        Directory.Delete(settings, recursive: true);

        var login = await Command.RunAsync("sh", ["-c", UnderUsualUmask, TestSupport.Jumpgate.Executable, "login", deployment.GatewayUrl, "--token-file", tokenFile, "--fingerprint", deployment.Fingerprint],
            Signals.Timeout(60), deployment.ClientEnvironment, output: output);

        Assert.Equal(0, login.ExitCode);
        Assert.Contains($"warning: {tokenFile} can be read by other users (mode 0644); fix it with `chmod 600 {tokenFile}`", login.Stderr);
        Assert.DoesNotContain(deployment.UserToken, login.Stderr + login.Stdout);
        Assert.Equal("0700", PrivateFile.Octal(File.GetUnixFileMode(settings)));
        AssertOwnerOnly(Path.Combine(settings, "config.json"));

        File.SetUnixFileMode(tokenFile, PrivateFile.OwnerOnly);
        var quiet = await deployment.JumpgateAsync("login", deployment.GatewayUrl, "--token-file", tokenFile, "--fingerprint", deployment.Fingerprint);
        Assert.Equal(0, quiet.ExitCode);
        Assert.DoesNotContain("warning", quiet.Stderr);
    }

    [Fact]
    public async Task InitCreatesTheKeyAndStoreOwnerOnly()
    {
        var gateway = await InitAsync();

        AssertOwnerOnly(Path.Combine(gateway, "gateway.key"));
        AssertOwnerOnly(Path.Combine(gateway, "gateway.db"));
    }

    [Fact]
    public async Task AStoreAtANewPathIsOwnerOnlyFromItsFirstRunWhileTheGatewayRuns()
    {
        var gateway = await InitAsync();
        var config = Path.Combine(gateway, "gateway.yaml");
        await File.WriteAllTextAsync(config, Regex.Replace(await File.ReadAllTextAsync(config), "(?m)^store: .*$", "store: fresh.db"));
        var store = Path.Combine(gateway, "fresh.db");
        Assert.False(File.Exists(store));

        await using var server = Start("gateway", ["gateway", "run", "--dir", gateway, "--verbose"]);
        var listening = await server.WaitForLineAsync(@"listening on https://(\S+) ", Signals.Timeout(60));
        var fingerprint = (await JumpgateAsync(["gateway", "fingerprint", "--dir", gateway])).Stdout.Trim();
        var tokenFile = _dir.File("lab-a.token");
        Assert.Equal(0, (await JumpgateAsync(["gateway", "add-agent", "lab-a", "--hosts", "node1", "--dir", gateway, "-o", tokenFile])).ExitCode);
        await File.WriteAllTextAsync(_dir.File("agent.yaml"), $"""
            gateway: https://{listening.Groups[1].Value}
            token_file: {tokenFile}
            fingerprint: {fingerprint}
            hosts:
              node1:
                address: 127.0.0.1
                services:
                  ssh: 22
            """);
        // The agent's connection is the gateway's first audit event: audit.jsonl is created now, by the running gateway.
        await using var agent = Start("agent", ["agent", "run", "--config", _dir.File("agent.yaml")]);
        await agent.WaitForLineAsync("connected to https://", Signals.Timeout(60));
        var audit = Path.Combine(gateway, "audit.jsonl");
        string[] secrets = [store, store + "-wal", store + "-shm", audit, Path.Combine(gateway, "gateway.key")];
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(secrets.All(File.Exists)), Signals.Timeout(30)),
            "the store, its -wal and -shm, and audit.jsonl should exist while the gateway runs");

        Assert.False(server.Exited.IsCompleted, "the gateway should still be running");
        foreach (var path in secrets)
        {
            output.WriteLine($"{PrivateFile.Octal(File.GetUnixFileMode(path))} {path}");
            AssertOwnerOnly(path);
        }
    }

    private async Task<string> InitAsync()
    {
        var gateway = _dir.File("gateway");
        var init = await JumpgateAsync(["gateway", "init", "--dir", gateway, "--listen", "127.0.0.1:0"]);
        Assert.Equal(0, init.ExitCode);
        return gateway;
    }

    private Task<CommandResult> JumpgateAsync(string[] arguments) =>
        Command.RunAsync("sh", ["-c", UnderUsualUmask, TestSupport.Jumpgate.Executable, .. arguments], Signals.Timeout(60), output: output);

    private ChildProcess Start(string name, string[] arguments) =>
        ChildProcess.Start(name, "sh", ["-c", UnderUsualUmask, TestSupport.Jumpgate.Executable, .. arguments], output);

    private static void AssertOwnerOnly(string path) =>
        Assert.True(File.GetUnixFileMode(path) == PrivateFile.OwnerOnly, $"{path} has mode {PrivateFile.Octal(File.GetUnixFileMode(path))}, not 0600");
}
