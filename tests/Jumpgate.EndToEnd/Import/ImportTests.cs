using System.Net.Sockets;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Import;

/// <summary>
/// `jumpgate import` on config files shaped as frp's documentation and OpenSSH write them: the
/// agent.yaml it writes runs as written with a real agent against a real gateway on loopback, and
/// carries a stream to the service the old file exposed.
/// </summary>
public sealed class ImportTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("frpc.toml")]
    [InlineData("frpc.ini")]
    public async Task FrpcConfigBecomesAnAgentYamlThatARealAgentRunsAndCarriesStreams(string name)
    {
        await using var deployment = await Deployment.StartAsync(output);
        await using var onLoopback = new EchoServer();
        await using var elsewhere = new EchoServer("127.0.0.2");
        var tokenFile = await deployment.AddAgentAsync("lab-frp", "*");
        var frpc = deployment.Dir.File(name);
        // frp's shapes (tests/Fixtures/frp): a tcp proxy on the loopback, one on another localIP, and a udp one that has no counterpart.
        await File.WriteAllTextAsync(frpc, name.EndsWith(".toml", StringComparison.Ordinal)
            ? $"""
                serverAddr = "frp.example.org"
                serverPort = 7000
                auth.token = "12345678"

                [[proxies]]
                name = "echo"
                type = "tcp"
                localIP = "127.0.0.1"
                localPort = {onLoopback.Port}
                remotePort = 6000

                [[proxies]]
                name = "echo_far"
                type = "tcp"
                localIP = "127.0.0.2"
                localPort = {elsewhere.Port}
                remotePort = 6001

                [[proxies]]
                name = "dns"
                type = "udp"
                localIP = "127.0.0.1"
                localPort = 53
                remotePort = 6002
                """
            : $"""
                [common]
                server_addr = frp.example.org
                server_port = 7000
                token = 12345678

                [echo]
                type = tcp
                local_ip = 127.0.0.1
                local_port = {onLoopback.Port}
                remote_port = 6000

                [echo_far]
                type = tcp
                local_ip = 127.0.0.2
                local_port = {elsewhere.Port}
                remote_port = 6001

                [dns]
                type = udp
                local_ip = 127.0.0.1
                local_port = 53
                remote_port = 6002
                """);
        var agentYaml = deployment.Dir.File("lab-frp.yaml");
        string[] import = ["import", "frpc", frpc, "--gateway", deployment.GatewayUrl, "--fingerprint", deployment.Fingerprint, "--token-file", tokenFile, "--host", "node1", "-o", agentYaml];

        var imported = await deployment.JumpgateAsync(import);
        var again = await deployment.JumpgateAsync(import);

        Assert.Equal(0, imported.ExitCode);
        Assert.Contains("proxy 'dns' not imported (udp): the gateway carries TCP streams only", imported.Stderr, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(agentYaml));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains($"{agentYaml} already exists", again.Stderr, StringComparison.Ordinal);

        // Deployment runs an existing NAME.yaml as it is.
        await deployment.StartAgentAsync("lab-frp", "");
        var hosts = await deployment.JumpgateAsync("ls");
        Assert.Matches(@"(?m)^node1\s+online\s+lab-frp\s+echo$", hosts.Stdout);
        Assert.Matches(@"(?m)^127-0-0-2\s+online\s+lab-frp\s+echo-far$", hosts.Stdout);
        await AssertCarriesAsync(deployment, "node1:echo");
        await AssertCarriesAsync(deployment, "127-0-0-2:echo-far");
    }

    [Fact]
    public async Task SshConfigWithAProxyJumpBecomesAnAgentOnTheBastionAndSshLogsInThroughTheGateway()
    {
        await using var deployment = await Deployment.StartAsync(output);
        await using var sshd = await Sshd.StartAsync(output);
        var tokenFile = await deployment.AddAgentAsync("bastion", "*");
        var userConfig = deployment.Dir.File("user_ssh_config");
        await File.WriteAllTextAsync(userConfig, $"""
            Host bastion
                HostName bastion.example.org
                User alice

            Host node1
                HostName 127.0.0.1
                Port {sshd.Port}
                ProxyJump alice@bastion

            Host *.internal
                ProxyJump bastion
            """);
        var agentYaml = deployment.Dir.File("bastion.yaml");

        var imported = await deployment.JumpgateAsync("import", "ssh-config", userConfig, "--gateway", deployment.GatewayUrl, "--fingerprint", deployment.Fingerprint, "--token-file", tokenFile, "-o", agentYaml);

        Assert.Equal(0, imported.ExitCode);
        Assert.Contains($"  node1:\n    address: 127.0.0.1\n    services:\n      ssh: {sshd.Port}\n", await File.ReadAllTextAsync(agentYaml), StringComparison.Ordinal);
        Assert.Contains("Host *.internal is a pattern, not a machine", imported.Stderr, StringComparison.Ordinal);
        Assert.Contains("# Run the agent on bastion.", imported.Stdout, StringComparison.Ordinal);

        await deployment.StartAgentAsync("bastion", "");
        // The printed lines, then what the test's sshd needs (its user, key and known_hosts), as a user appends them.
        var sshConfig = deployment.Dir.File("new_ssh_config");
        await File.WriteAllTextAsync(sshConfig, $"""
            {imported.Stdout}
            Host *
                User root
                IdentityFile {sshd.ClientKey}
                IdentitiesOnly yes
                UserKnownHostsFile {deployment.Dir.File("known_hosts")}
                StrictHostKeyChecking accept-new
                BatchMode yes
                ConnectTimeout 60

            """);
        var ssh = await deployment.SshAsync(sshConfig, "node1.jg", "echo", "through-jumpgate");
        Assert.Equal(0, ssh.ExitCode);
        Assert.Equal("through-jumpgate", ssh.Stdout.Trim());
    }

    private async Task AssertCarriesAsync(Deployment deployment, string target)
    {
        var forward = ChildProcess.Start($"forward {target}", TestSupport.Jumpgate.Executable, ["forward", target, "--local", "127.0.0.1:0"], output, deployment.ClientEnvironment);
        await using var _ = forward;
        var bound = await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30));
        using var client = new TcpClient();
        await client.ConnectAsync(System.Net.IPEndPoint.Parse(bound.Groups[1].Value));
        var payload = System.Text.Encoding.ASCII.GetBytes($"hello {target}");
        Assert.Equal(payload, await EchoServer.RoundTripAsync(client.GetStream(), payload, Signals.Timeout(10)));
    }
}
