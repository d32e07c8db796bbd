using Jumpgate.Cli.Fleet;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Fleet;

public sealed class SshConfigTests : IDisposable
{
    private readonly TempDirectory _directory = new("jg-fleet-ssh");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void SendsJgHostsThroughTheGatewayAndTheOthersThroughTheHeadNode()
    {
        var fleet = new FleetSpec
        {
            Name = "lab",
            Hosts =
            [
                new FleetHostSpec { Name = "10.0.0.11", Ssh = new SshTarget { HostName = "10.0.0.11", User = "ubuntu", Port = 2222 } },
                new FleetHostSpec { Name = "node3.jg", Ssh = new SshTarget { HostName = "node3.jg" } },
            ],
            ProxyJump = new SshTarget { HostName = "head.example.org", IdentityFile = "/keys/head" },
        };

        var text = SshConfig.Write(fleet, "/fleets/lab/ssh_config", "/fleets/lab/known_hosts", "/run/jg", strict: false, TimeSpan.FromSeconds(30));
        var blocks = text.Split("Host ", StringSplitOptions.RemoveEmptyEntries).Skip(1).ToDictionary(b => b[..b.IndexOf('\n')].Trim());

        Assert.Contains("HostName head.example.org", blocks[SshConfig.HeadAlias]);
        Assert.Contains("IdentityFile /keys/head", blocks[SshConfig.HeadAlias]);
        Assert.DoesNotContain("ProxyCommand", blocks[SshConfig.HeadAlias]);
        Assert.Contains($"ProxyCommand ssh -F /fleets/lab/ssh_config -o ControlPath=none -o LogLevel=INFO -E /fleets/lab/10.0.0.11.jump.log -W [%h]:%p {SshConfig.HeadAlias}", blocks["10.0.0.11"]);
        Assert.Contains("HostKeyAlias 10.0.0.11", blocks["10.0.0.11"]);
        Assert.Contains("Port 2222", blocks["10.0.0.11"]);
        // Through the gateway, proxy hands ssh the connection; ssh -W through the head has no socket to hand.
        Assert.Matches(@"ProxyCommand .*jumpgate.* proxy --fdpass %h %p", blocks["node3.jg"]);
        Assert.Contains("ProxyUseFdpass yes", blocks["node3.jg"]);
        Assert.DoesNotContain("ProxyUseFdpass", blocks["10.0.0.11"]);
        Assert.DoesNotContain("ProxyUseFdpass", blocks["*"]);
        Assert.Contains("StrictHostKeyChecking accept-new", blocks["*"]);
        Assert.Contains("BatchMode yes", blocks["*"]);
        Assert.Contains("ControlPath /run/jg/%C", blocks["*"]);
        Assert.Contains("UserKnownHostsFile /fleets/lab/known_hosts", blocks["*"]);
    }

    [Fact]
    public async Task FingerprintsMatchSshKeygens()
    {
        var key = _directory.File("key");
        await Command.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key], TimeSpan.FromSeconds(30));
        var publicKey = File.ReadAllText(key + ".pub").Split(' ');
        File.WriteAllText(_directory.File("known_hosts"), $"node1 {publicKey[0]} {publicKey[1]}\n");
        var keygen = await Command.RunAsync("ssh-keygen", ["-l", "-f", key + ".pub"], TimeSpan.FromSeconds(30));

        var recorded = KnownHosts.Read(_directory.File("known_hosts"))["node1"];

        Assert.Equal($"ED25519 {keygen.Stdout.Split(' ')[1]}", recorded);
    }

    [Fact]
    public void ReadsTheFingerprintAChangedHostOffered()
    {
        const string warning = """
            @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
            @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
            IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
            The fingerprint for the ED25519 key sent by the remote host is
            SHA256:a5Kz63alhIaXYBBgZikmAq/KImAmgkn48FMq7AFgaqk.
            Host key verification failed.
            """;

        Assert.Equal("the host key changed: the host offered SHA256:a5Kz63alhIaXYBBgZikmAq/KImAmgkn48FMq7AFgaqk", Ssh.Describe(warning, "node1"));
        Assert.Equal("ssh: connect to host 10.0.0.9 port 22: Connection refused", Ssh.Describe("ssh: connect to host 10.0.0.9 port 22: Connection refused\n", "node1"));
    }
}
