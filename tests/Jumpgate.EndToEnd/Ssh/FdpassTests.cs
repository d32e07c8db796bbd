using System.Security.Cryptography;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Ssh;

/// <summary>
/// `proxy --fdpass` (OpenSSH's ProxyUseFdpass, which the default `ssh-config` writes) where no
/// plain leg can be made: the gateway makes no direct legs on purpose (gateway.yaml
/// <c>direct_legs: false</c>), so the stream goes through the gateway's TLS and a relay process of
/// Jumpgate's carries it on a socket pair whose other end ssh was handed.
/// </summary>
public sealed class FdpassTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Sshd _sshd = null!;
    private Deployment _deployment = null!;
    private string _sshConfig = "";

    public async Task InitializeAsync()
    {
        _sshd = await Sshd.StartAsync(output);
        _deployment = await Deployment.StartAsync(output, gatewayYaml: "direct_legs: false");
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                ssh: {_sshd.Port}
            """);
        _sshConfig = await _deployment.WriteSshConfigAsync(_sshd);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _sshd.DisposeAsync();
    }

    [Fact]
    public async Task ScpThroughTheDefaultSshConfigFallsBackToTheGatewayAndKeepsTheFileIntact()
    {
        Assert.Contains("    ProxyUseFdpass yes\n", await File.ReadAllTextAsync(_sshConfig), StringComparison.Ordinal);
        var data = RandomNumberGenerator.GetBytes(2 << 20);
        var upload = _deployment.Dir.File("upload.bin");
        await File.WriteAllBytesAsync(upload, data);
        var (remote, download) = (_deployment.Dir.File("remote.bin"), _deployment.Dir.File("download.bin"));

        var up = await Command.RunAsync("scp", ["-F", _sshConfig, upload, $"node1.jg:{remote}"], Signals.Timeout(120), _deployment.ClientEnvironment, output: output);
        var down = await Command.RunAsync("scp", ["-F", _sshConfig, $"node1.jg:{remote}", download], Signals.Timeout(120), _deployment.ClientEnvironment, output: output);
        var echo = await _deployment.SshAsync(_sshConfig, "node1.jg", "echo", "carried");

        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(remote)));
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(download)));
        Assert.True(echo.ExitCode == 0, echo.ToString());
        Assert.Equal("carried\n", echo.Stdout);
        // The relay asked for the gateway's path outright, as its first try had been answered.
        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a closed after [\d.]+ s: closed[^,]*, 2\d{6} bytes to the service", Signals.Timeout(10));
    }

    [Fact]
    public async Task ProxyFdpassRefusesAStdoutThatIsNotAUnixSocket()
    {
        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["proxy", "--fdpass", "node1", "22"], Signals.Timeout(30),
            _deployment.ClientEnvironment, stdin: "SSH-2.0-OpenSSH_test\r\n", output: output);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("proxy --fdpass hands ssh its connection over stdout, which must be the unix socket that ssh makes for `ProxyUseFdpass yes`", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("or leave out --fdpass", result.Stderr, StringComparison.Ordinal);
    }
}
