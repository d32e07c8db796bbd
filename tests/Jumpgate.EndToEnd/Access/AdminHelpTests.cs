using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Access;

/// <summary>The access-control admin commands explain themselves.</summary>
public sealed class AdminHelpTests(ITestOutputHelper output)
{
    [Fact]
    public async Task HelpOfEveryAccessCommandShowsAnExample()
    {
        string[] commands = ["grant", "revoke", "rules", "disable", "enable", "tokens", "token-add", "token-revoke", "audit", "add-user", "add-agent", "add-admin", "users", "agents", "admins", "group add", "group remove"];
        foreach (var command in commands)
        {
            var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", .. command.Split(' '), "--help"], Signals.Timeout(30), output: output);

            Assert.Equal(0, result.ExitCode);
            Assert.Contains("Example:", result.Stdout);
            Assert.Contains($"jumpgate gateway {command} ", result.Stdout);
            // Each works on the local store and, after `jumpgate admin login`, on a remote gateway.
            Assert.Contains(" --dir ./gw", result.Stdout);
            Assert.Contains(" --remote", result.Stdout);
        }
        var login = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["admin", "login", "--help"], Signals.Timeout(30), output: output);
        Assert.Contains("jumpgate admin login https://", login.Stdout);
    }

    [Fact]
    public async Task AGroupArgumentIsNotTakenForAResponseFile()
    {
        using var directory = new TempDirectory("jg-admin");
        var gateway = directory.File("gw");
        var init = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "init", "--dir", gateway], Signals.Timeout(30), output: output);
        Assert.Equal(0, init.ExitCode);

        var grant = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "grant", "@students", "node*", "--service", "ssh", "--dir", gateway], Signals.Timeout(30), output: output);
        var rules = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "rules", "--dir", gateway], Signals.Timeout(30), output: output);

        Assert.Equal(0, grant.ExitCode);
        Assert.Contains(rules.Stdout.Split('\n'), l => l.StartsWith("@students", StringComparison.Ordinal) && l.TrimEnd().EndsWith("ssh", StringComparison.Ordinal));
    }
}
