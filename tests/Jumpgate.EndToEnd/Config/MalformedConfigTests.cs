using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Config;

/// <summary>A broken config file stops the program with every problem named by file, line and field.</summary>
public sealed class MalformedConfigTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AgentConfigErrorsNameFileLineAndFieldAllAtOnce()
    {
        await SecretFiles.WriteAsync(_dir.File("lab-a.token"), "jga_0123456789ab_" + new string('A', 43));
        var config = _dir.File("agent.yaml");
        await File.WriteAllTextAsync(config, """
            gateway: http://gw.example.org
            token_file: ./lab-a.token
            hosts:
              node1:
                adress: 10.0.1.50
                services:
                  ssh: 70000
            """);

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["agent", "run", "--config", config], Signals.Timeout(30), output: output);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{config}:1:10: gateway: gateway address 'http://gw.example.org' is not an https:// URL", result.Stderr);
        Assert.Contains($"{config}:5:5: hosts.node1.adress: unknown setting", result.Stderr);
        Assert.Contains($"{config}:5:5: hosts.node1.address: is required", result.Stderr);
        Assert.Contains($"{config}:7:12: hosts.node1.services.ssh: expected a whole number from 1 to 65535", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public async Task AgentConfigWithBrokenYamlNamesTheLine()
    {
        var config = _dir.File("agent.yaml");
        await File.WriteAllTextAsync(config, "gateway: https://x\nhosts:\n  node1: [unclosed\n");

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["agent", "run", "--config", config], Signals.Timeout(30), output: output);

        Assert.Equal(1, result.ExitCode);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(config)}:[34]:\d+: \(syntax\): ", result.Stderr);
    }

    [Fact]
    public async Task GatewayConfigErrorsNameFileLineAndField()
    {
        var init = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "init", "--dir", _dir.Path, "--listen", "127.0.0.1:0"], Signals.Timeout(30), output: output);
        Assert.Equal(0, init.ExitCode);
        var config = _dir.File("gateway.yaml");
        var text = await File.ReadAllTextAsync(config);
        await File.WriteAllTextAsync(config, text.Replace("listen: 127.0.0.1:0", "listen: everywhere", StringComparison.Ordinal) + "heartbeat_interval: 1 hour\n");

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "run", "--dir", _dir.Path], Signals.Timeout(30), output: output);

        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"gateway\.yaml:2:9: listen: expected an address and port", result.Stderr);
        Assert.Matches(@"gateway\.yaml:\d+:21: heartbeat_interval: expected a duration", result.Stderr);
    }

    [Fact]
    public async Task GatewayRefusesToStartWithAKeyOthersCanRead()
    {
        await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "init", "--dir", _dir.Path, "--listen", "127.0.0.1:0"], Signals.Timeout(30), output: output);
        File.SetUnixFileMode(_dir.File("gateway.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["gateway", "run", "--dir", _dir.Path], Signals.Timeout(30), output: output);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{_dir.File("gateway.key")} can be read by other users", result.Stderr);
        Assert.Contains("chmod 600", result.Stderr);
    }
}
