using Jumpgate.Cli.Fleet;
using Jumpgate.Core.Config;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Fleet;

public sealed class FleetFileTests : IDisposable
{
    private readonly TempDirectory _directory = new("jg-fleet-file");

    public FleetFileTests()
    {
        File.WriteAllText(_directory.File("lab_key"), "not read by the parser");
        File.WriteAllText(_directory.File("head_key"), "not read by the parser");
    }

    public void Dispose() => _directory.Dispose();

    private string FleetPath => _directory.File("fleet.yml");

    private FleetSpec Parse(string text)
    {
        File.WriteAllText(FleetPath, text);
        return FleetFile.Load(FleetPath);
    }

    private ConfigError SingleError(string text)
    {
        var e = Assert.Throws<ConfigException>(() => Parse(text));
        var error = Assert.Single(e.Errors);
        Assert.Equal(FleetPath, error.File);
        return error;
    }

    [Fact]
    public void ReadsDstacksSshFleetWithAHeadNode()
    {
        var fleet = Parse("""
            type: fleet
            name: lab
            placement: cluster
            ssh_config:
              user: ubuntu
              port: 2222
              identity_file: lab_key
              hosts:
                - 10.0.0.11
                - hostname: 10.0.0.12
                  user: root
                  port: 22
                  blocks: 4
                - hostname: node3.jg
                  blocks: auto
              proxy_jump:
                hostname: head.example.org
                user: admin
                identity_file: head_key
            """);

        Assert.Equal("lab", fleet.Name);
        Assert.Equal("cluster", fleet.Placement);
        Assert.Equal(["10.0.0.11", "10.0.0.12", "node3.jg"], fleet.Hosts.Select(h => h.Name));
        var first = fleet.Hosts[0].Ssh;
        Assert.Equal(("ubuntu", 2222, _directory.File("lab_key")), (first.User, first.Port, first.IdentityFile));
        var second = fleet.Hosts[1];
        Assert.Equal(("root", 22, 4), (second.Ssh.User, second.Ssh.Port, second.Blocks));
        Assert.True(fleet.Hosts[2].Ssh.ThroughGateway);
        Assert.Null(fleet.Hosts[2].Blocks);
        Assert.Equal("head.example.org", fleet.ProxyJump!.HostName);
        Assert.Equal(("admin", 2222, _directory.File("head_key")), (fleet.ProxyJump.User, fleet.ProxyJump.Port, fleet.ProxyJump.IdentityFile));
    }

    [Fact]
    public void ReadsTheSeedsMinimalHeadNodeFleet()
    {
        var fleet = Parse("""
            type: fleet
            name: private-fleet
            placement: cluster
            ssh_config:
              hosts:
                - compute-host-1
                - compute-host-2
              proxy_jump:
                hostname: host-node
                identity_file: head_key
            """);

        Assert.Equal(["compute-host-1", "compute-host-2"], fleet.Hosts.Select(h => h.Name));
        Assert.Null(fleet.Hosts[0].Ssh.User);
        Assert.Equal("host-node", fleet.ProxyJump!.HostName);
    }

    [Fact]
    public void RejectsAnUnknownKeyWithItsLineAndField()
    {
        var error = SingleError("""
            type: fleet
            name: lab
            ssh_config:
              hosts:
                - hostname: node1
                  gpus: 8
            """);

        Assert.Equal((6, "ssh_config.hosts[0].gpus"), (error.Line, error.Field));
        Assert.Contains("unknown setting", error.Message);
    }

    [Fact]
    public void RejectsAHostListedTwice()
    {
        var error = SingleError("""
            type: fleet
            name: lab
            ssh_config:
              hosts:
                - node1
                - node2
                - hostname: NODE1
            """);

        Assert.Equal((7, "ssh_config.hosts[2]"), (error.Line, error.Field));
        Assert.Contains("listed twice (first on line 5)", error.Message);
    }

    [Fact]
    public void RejectsAMissingIdentityFile()
    {
        var error = SingleError("""
            type: fleet
            name: lab
            ssh_config:
              hosts: [node1]
              proxy_jump:
                hostname: head
                identity_file: ~/.ssh/jumpgate-no-such-key
            """);

        Assert.Equal((7, "ssh_config.proxy_jump.identity_file"), (error.Line, error.Field));
        Assert.Contains("jumpgate-no-such-key does not exist", error.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("-1")]
    [InlineData("many")]
    public void RejectsBlocksOutOfRange(string blocks)
    {
        var error = SingleError($"""
            type: fleet
            name: lab
            ssh_config:
              hosts:
                - hostname: node1
                  blocks: {blocks}
            """);

        Assert.Equal((6, "ssh_config.hosts[0].blocks"), (error.Line, error.Field));
        Assert.Equal("expected a whole number from 1 to 64, or auto", error.Message);
    }

    [Fact]
    public void ReportsEveryProblemAtOnce()
    {
        var e = Assert.Throws<ConfigException>(() => Parse("""
            type: cluster
            name: Lab Fleet
            ssh_config:
              port: 70000
              hosts:
                - node1
                - node1
            """));

        Assert.Equal(["type", "name", "ssh_config.port", "ssh_config.hosts[1]"], e.Errors.Select(x => x.Field));
    }

    [Fact]
    public void RequiresTheHostList()
    {
        var error = SingleError("""
            type: fleet
            name: lab
            ssh_config:
              user: ubuntu
            """);

        Assert.Equal("ssh_config.hosts", error.Field);
    }
}
