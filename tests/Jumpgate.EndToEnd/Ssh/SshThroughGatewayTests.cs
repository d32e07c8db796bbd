using System.Security.Cryptography;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Ssh;

/// <summary>Stock OpenSSH through `jumpgate proxy`: a real sshd behind a real agent and gateway.</summary>
public sealed class SshThroughGatewayTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Sshd _sshd = null!;
    private Deployment _deployment = null!;
    private string _sshConfig = "";

    public async Task InitializeAsync()
    {
        _sshd = await Sshd.StartAsync(output);
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*,lab-pc");
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
    public async Task SshRunsACommandOnTheHost()
    {
        var result = await _deployment.SshAsync(_sshConfig, "node1.jg", "echo", "ok");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("ok", result.Stdout.Trim());
    }

    [Fact]
    public async Task TwentySessionsAtOnceAllSucceed()
    {
        var sessions = Enumerable.Range(0, 20)
            .Select(i => _deployment.SshAsync(_sshConfig, "node1.jg", "echo", $"session-{i}"))
            .ToList();

        var results = await Task.WhenAll(sessions);

        for (var i = 0; i < results.Length; i++)
        {
            Assert.True(results[i].ExitCode == 0, results[i].ToString());
            Assert.Equal($"session-{i}", results[i].Stdout.Trim());
        }
    }

    [Fact]
    public async Task ScpThroughTheTrunkCarriesA64MiBFileBothWaysIntact()
    {
        var trunk = await _deployment.WriteSshConfigAsync(_sshd, options: ["--trunk"]);

        await ScpBothWaysAsync(trunk);

        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a closed after [\d.]+ s: closed by both ends, [6-9]\d{7} bytes to the service", Signals.Timeout(10));
    }

    [Fact]
    public async Task ProxyThatSshHangsUpOnFinishesTheCloseInsteadOfCuttingTheStream()
    {
        await using var proxy = ChildProcess.Start("proxy", Jumpgate.TestSupport.Jumpgate.Executable, ["proxy", "--trunk", "node1.jg", "22"], output,
            _deployment.ClientEnvironment);
        await proxy.WaitForLineAsync("^SSH-2.0-", Signals.Timeout(30));

        // What ssh does as it exits: close the ProxyCommand's stdin, and send it SIGHUP in the same breath.
        proxy.Input.Close();
        proxy.Signal(ChildProcess.SIGHUP);

        Assert.Equal(0, await proxy.Exited.WaitAsync(Signals.Timeout(10)));
        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a closed after [\d.]+ s: closed by both ends", Signals.Timeout(10));
    }

    [Fact]
    public async Task ScpThroughProxyTlsLegsCarriesA64MiBFileBothWaysIntactOnADirectStream()
    {
        var direct = await _deployment.WriteSshConfigAsync(_sshd, options: ["--direct", "--tls-legs"]);
        Assert.Contains(" proxy --direct --tls-legs %h %p", await File.ReadAllTextAsync(direct), StringComparison.Ordinal);

        await ScpBothWaysAsync(direct);

        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a closed after [\d.]+ s: closed \(direct\), [6-9]\d{7} bytes to the service", Signals.Timeout(10));
    }

    [Fact]
    public async Task ScpThroughTheDefaultSshConfigGoesOnPlainLegs()
    {
        Assert.Contains(" proxy --fdpass %h %p", await File.ReadAllTextAsync(_sshConfig), StringComparison.Ordinal);

        await ScpBothWaysAsync(_sshConfig);

        await _deployment.Gateway!.WaitForLineAsync(@"stream researcher -> node1:ssh via lab-a closed after [\d.]+ s: closed \(direct, plain legs\), [6-9]\d{7} bytes to the service", Signals.Timeout(10));
    }

    private async Task ScpBothWaysAsync(string sshConfig)
    {
        var upload = _deployment.Dir.File("upload.bin");
        var data = new byte[64 * 1024 * 1024];
        new Random(1234).NextBytes(data);
        await File.WriteAllBytesAsync(upload, data);
        var remote = _deployment.Dir.File("remote.bin");
        var download = _deployment.Dir.File("download.bin");

        var up = await Command.RunAsync("scp", ["-F", sshConfig, upload, $"node1.jg:{remote}"], Signals.Timeout(120), _deployment.ClientEnvironment, output: output);
        var down = await Command.RunAsync("scp", ["-F", sshConfig, $"node1.jg:{remote}", download], Signals.Timeout(120), _deployment.ClientEnvironment, output: output);

        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.True(down.ExitCode == 0, down.ToString());
        var expected = SHA256.HashData(data);
        Assert.Equal(expected, SHA256.HashData(await File.ReadAllBytesAsync(remote)));
        Assert.Equal(expected, SHA256.HashData(await File.ReadAllBytesAsync(download)));
    }

    [Fact]
    public async Task RsyncCopiesADirectoryTreeThroughTheGateway()
    {
        var source = Directory.CreateDirectory(_deployment.Dir.File("tree")).FullName;
        Directory.CreateDirectory(Path.Combine(source, "sub"));
        for (var i = 0; i < 20; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(source, i % 2 == 0 ? "sub" : "", $"file{i}.txt"), $"content {i}\n");
        }
        var destination = _deployment.Dir.File("copy");

        var result = await Command.RunAsync("rsync", ["-a", "-e", $"ssh -F {_sshConfig}", source + "/", $"node1.jg:{destination}/"],
            Signals.Timeout(60), _deployment.ClientEnvironment, output: output);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(20, Directory.EnumerateFiles(destination, "*", SearchOption.AllDirectories).Count());
        Assert.Equal("content 4\n", await File.ReadAllTextAsync(Path.Combine(destination, "sub", "file4.txt")));
    }
}
