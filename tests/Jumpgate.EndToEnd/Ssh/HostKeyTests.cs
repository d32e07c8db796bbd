using System.Diagnostics;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Ssh;

/// <summary>
/// The gateway vouches for SSH host keys: the agent reads them from a real sshd, `jumpgate
/// known-hosts` serves them to the real ssh through the config `ssh-config` wrote, and a key that
/// changed behind the agent is refused until an admin accepts it.
/// </summary>
public sealed class HostKeyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Sshd _sshd = null!;
    private Deployment _deployment = null!;
    private string _sshConfig = "";

    public async Task InitializeAsync()
    {
        _sshd = await Sshd.StartAsync(output);
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*");
        // Checks every 200 ms that turn on one failure, so the test can see the agent notice a restart.
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                ssh:
                  port: {_sshd.Port}
                  health: {"{"} interval: 200ms, timeout: 150ms, unhealthy_after: 1, healthy_after: 1 {"}"}
            """);
        _sshConfig = await _deployment.WriteSshConfigAsync(_sshd);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _sshd.DisposeAsync();
    }

    [Fact]
    public async Task KnownHostsAnswersTheKeysTheAgentReadFromTheRealSshd()
    {
        var started = Stopwatch.StartNew();
        var known = await _deployment.JumpgateAsync("known-hosts", "node1.jg");
        output.WriteLine($"jumpgate known-hosts node1.jg: {started.ElapsedMilliseconds} ms");
        var scanned = await Command.RunAsync("ssh-keyscan", ["-p", _sshd.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "127.0.0.1"], Signals.Timeout(30), output: output);

        Assert.True(known.ExitCode == 0, known.ToString());
        Assert.Equal("", known.Stderr);
        var lines = Lines(known.Stdout);
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.StartsWith("node1.jg ", line, StringComparison.Ordinal));
        // ssh-keyscan names the host [127.0.0.1]:PORT; the keys after the name are what must agree.
        Assert.Equal(Lines(scanned.Stdout).Select(KeyOf).Order(StringComparer.Ordinal), lines.Select(KeyOf).Order(StringComparer.Ordinal));
        Assert.Contains(lines, line => line.EndsWith(File.ReadAllText(_sshd.HostPublicKey).Split(' ')[1], StringComparison.Ordinal));

        var unknown = await _deployment.JumpgateAsync("known-hosts", "node9.jg");
        Assert.True(unknown.ExitCode == 0, unknown.ToString());
        Assert.Equal("", unknown.Stdout);
    }

    [Fact]
    public async Task AFirstSshWithAnEmptyKnownHostsSucceedsUnderStrictHostKeyChecking()
    {
        var config = await File.ReadAllTextAsync(_sshConfig);
        Assert.Contains(" known-hosts %H", config, StringComparison.Ordinal);
        Assert.Contains("StrictHostKeyChecking yes", config, StringComparison.Ordinal);
        var knownHosts = _deployment.Dir.File("known_hosts");
        Assert.False(File.Exists(knownHosts) && new FileInfo(knownHosts).Length > 0, "the test's known_hosts is not empty");

        var started = Stopwatch.StartNew();
        var result = await _deployment.SshAsync(_sshConfig, "node1.jg", "true");
        output.WriteLine($"first ssh node1.jg true: {started.ElapsedMilliseconds} ms");

        Assert.True(result.ExitCode == 0, result.ToString());
        // Verified through the gateway's answer alone: StrictHostKeyChecking yes writes nothing to known_hosts.
        Assert.False(File.Exists(knownHosts) && new FileInfo(knownHosts).Length > 0, "ssh wrote the key to known_hosts");
    }

    [Fact]
    public async Task AHostKeyThatChangedBehindTheAgentIsRefusedAndAuditedUntilAnAdminAcceptsIt()
    {
        var first = await _deployment.SshAsync(_sshConfig, "node1.jg", "true");
        Assert.True(first.ExitCode == 0, first.ToString());
        var agent = _deployment.Agent("lab-a");

        // The agent's check notices the sshd gone (its port refuses a connect), then reads the new key once it is back.
        await _sshd.RestartWithNewHostKeyAsync(output, () => agent.WaitForLineAsync("node1:ssh is unhealthy", Signals.Timeout(30)));
        await _deployment.Gateway!.WaitForLineAsync("the host keys of node1 changed: agent lab-a read", Signals.Timeout(30));

        var refused = await _deployment.SshAsync(_sshConfig, "node1.jg", "true");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("Host key verification failed", refused.Stderr, StringComparison.Ordinal);

        var audit = await _deployment.JumpgateAsync("gateway", "audit", "--dir", _deployment.GatewayDir, "--event", "host_key", "--json");
        Assert.True(audit.ExitCode == 0, audit.ToString());
        Assert.Contains("\"changed\"", audit.Stdout, StringComparison.Ordinal);
        var listed = await _deployment.JumpgateAsync("gateway", "host-keys", "--dir", _deployment.GatewayDir);
        Assert.Contains("CHANGED, not vouched", listed.Stdout, StringComparison.Ordinal);

        var accept = await _deployment.JumpgateAsync("gateway", "host-keys", "accept", "node1", "--dir", _deployment.GatewayDir);
        Assert.True(accept.ExitCode == 0, accept.ToString());

        var again = await _deployment.SshAsync(_sshConfig, "node1.jg", "true");
        Assert.True(again.ExitCode == 0, again.ToString());
        var known = await _deployment.JumpgateAsync("known-hosts", "node1.jg");
        Assert.Contains(File.ReadAllText(_sshd.HostPublicKey).Split(' ')[1], known.Stdout, StringComparison.Ordinal);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith('#')).ToArray();

    private static string KeyOf(string line) => line.Split(' ', 2)[1];
}
