using Jumpgate.Cli.Client;
using Jumpgate.Cli.Import;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Import;

/// <summary>frp's own example files (tests/Fixtures/frp/SOURCES.md) and broken ones, read as `jumpgate import frpc|frps` reads them.</summary>
public sealed class FrpImportTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "frp", name);

    [Fact]
    public void TomlExampleGivesLoopbackProxiesToTheHostAndAnotherLocalIpAHostOfItsOwn()
    {
        var agent = FrpcImport.Import(FrpFile.Load(Fixture("frpc_full_example.toml")), "gpu1");

        Assert.Equal(["gpu1", "192-168-31-100"], agent.Hosts.Select(h => h.Name));
        var gpu1 = agent.Hosts[0];
        Assert.Equal("127.0.0.1", gpu1.Address);
        Assert.Equal([new ImportedService("ssh", 22), new ImportedService("web01", 80, Http: true, Subdomain: "web01")], gpu1.Services);
        Assert.Equal("192.168.31.100", agent.Hosts[1].Address);
        Assert.Equal([new ImportedService("ssh-random", 22)], agent.Hosts[1].Services);
    }

    [Fact]
    public void WhatHasNoCounterpartIsNotedWithItsLineAndWhy()
    {
        var path = Fixture("frpc_full_example.toml");

        var notes = FrpcImport.Import(FrpFile.Load(path), "gpu1").Notes;

        Assert.Contains($"{path}:191: proxy 'ssh': transport.bandwidthLimit not carried over: the agent does not limit bandwidth", notes);
        Assert.Contains($"{path}:230: proxy 'dns' not imported (udp): the gateway carries TCP streams only", notes);
        Assert.Contains(notes, n => n.StartsWith($"{path}:384: proxy 'secret_tcp' not imported (stcp)", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith($"{path}:397: proxy 'p2p_tcp' not imported (xtcp)", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith($"{path}:291: proxy 'plugin_unix_domain_socket' not imported: plugin unix_domain_socket", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith($"{path}:269: proxy 'web02' not imported (https)", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith($"{path}:423: visitor 'secret_tcp_visitor' not imported", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("'ssh_random' is named 'ssh-random'", StringComparison.Ordinal));
    }

    [Fact]
    public void TheOlderIniFormatGivesTheSameKindsOfServicesAndNotes()
    {
        var path = Fixture("frpc_legacy_full.ini");

        var agent = FrpcImport.Import(FrpFile.Load(path), "gpu1");

        var host = Assert.Single(agent.Hosts);
        Assert.Equal([new ImportedService("ssh", 22), new ImportedService("ssh-random", 22), new ImportedService("web01", 80, Http: true, Subdomain: "web01")], host.Services);
        Assert.Contains($"{path}:161: proxy 'ssh': bandwidth_limit not carried over: the agent does not limit bandwidth", agent.Notes);
        Assert.Contains(agent.Notes, n => n.Contains("proxy 'range:tcp_port' not imported: port ranges", StringComparison.Ordinal));
        Assert.Contains(agent.Notes, n => n.Contains("proxy 'dns' not imported (udp)", StringComparison.Ordinal));
        Assert.Contains(agent.Notes, n => n.Contains("proxy 'plugin_socks5' not imported: plugin socks5", StringComparison.Ordinal));
        Assert.Contains(agent.Notes, n => n.Contains("visitor 'p2p_tcp_visitor' not imported", StringComparison.Ordinal));
    }

    [Fact]
    public void TheWrittenAgentYamlHoldsTheGatewayTheTokenFileAndEachService()
    {
        var agent = FrpcImport.Import(FrpFile.Load(Fixture("frpc.toml")), "lab-pc");

        var yaml = agent.ToYaml("frpc.toml", "https://gw.example.org", "SHA256:x", "/etc/jumpgate/agent.token");

        Assert.Contains("gateway: https://gw.example.org\nfingerprint: SHA256:x\ntoken_file: /etc/jumpgate/agent.token\nhosts:\n  lab-pc:\n    address: 127.0.0.1\n    services:\n      test-tcp: 22\n", yaml, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("frpc.toml", "[[proxies]]\nname = \"ssh\"\ntype = \"tcp\"\nlocalPort = \"twenty-two\"\n", ":4: localPort: 'twenty-two' is not a port (1-65535)")]
    [InlineData("frpc.toml", "[[proxies]]\nname = \"ssh\"\nlocalPort = 70000\n", ":3: localPort: '70000' is not a port (1-65535)")]
    [InlineData("frpc.toml", "serverAddr = \"x\"\n[[proxies]]\nname = \"ssh\"\ntype = \"tcp\"\n", ":2: localPort: proxy 'ssh' has no local port")]
    [InlineData("frpc.toml", "[[proxies]]\ntype = \"tcp\"\nlocalPort = 22\n", ":1: name: a proxy needs a name")]
    [InlineData("frpc.toml", "[[proxies]]\nname = \"web\"\ntype = \"http\"\nlocalPort = 80\nsubdomain = \"Web_01\"\n", ":5: subdomain: 'Web_01' is not a DNS label")]
    [InlineData("frpc.toml", "[[proxies]\nname = \"ssh\"\n", ":1: ")]
    [InlineData("frpc.toml", "[[proxies]]\nname = \"dns\"\ntype = \"udp\"\nlocalPort = 53\n", ": no tcp or http proxy to import")]
    [InlineData("frpc.ini", "[common]\nserver_addr 1.2.3.4\n", ":2: expected `key = value`, found 'server_addr 1.2.3.4'")]
    [InlineData("frpc.ini", "local_port = 22\n[ssh]\n", ":1: local_port: a setting before any [section]")]
    [InlineData("frpc.ini", "[common]\n[ssh]\ntype = tcp\nlocal_port = 22x\n", ":4: local_port: '22x' is not a port (1-65535)")]
    public void BadInputIsRefusedNamingTheFileLineAndField(string name, string text, string expected)
    {
        using var dir = new TempDirectory("jg-frp");
        var path = dir.File(name);
        File.WriteAllText(path, text);

        var error = Assert.Throws<CliException>(() => FrpcImport.Import(FrpFile.Load(path), "gpu1"));

        Assert.Contains(path + expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IncludedFilesAreNotedNotSilentlySkipped()
    {
        using var dir = new TempDirectory("jg-frp");
        var path = dir.File("frpc.toml");
        File.WriteAllText(path, "includes = [\"./confd/*.toml\"]\n[[proxies]]\nname = \"ssh\"\nlocalPort = 22\n");

        var notes = FrpcImport.Import(FrpFile.Load(path), "gpu1").Notes;

        Assert.Contains(notes, n => n.StartsWith($"{path}:1: includes = ./confd/*.toml: the proxies of included files are not read here", StringComparison.Ordinal));
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        var error = Assert.Throws<CliException>(() => FrpFile.Load("/nonexistent/frpc.toml"));

        Assert.StartsWith("cannot read /nonexistent/frpc.toml", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("frps_full_example.toml")]
    [InlineData("frps_legacy_full.ini")]
    public void FrpsBecomesTheGatewayInitLineWithItsDomainAndHttpsPort(string name)
    {
        var (line, notes) = FrpsImport.Import(FrpFile.Load(Fixture(name)), "./gw");

        Assert.Equal("jumpgate gateway init --dir ./gw --listen 0.0.0.0:443 --domain frps.com", line);
        Assert.Contains(notes, n => n.Contains("not carried over: the gateway issues a token per agent and per user", StringComparison.Ordinal));
    }

    [Fact]
    public void FrpsWithoutSubDomainHostListensOnBindPortAndSaysToAddADomain()
    {
        using var dir = new TempDirectory("jg-frp");
        var path = dir.File("frps.toml");
        File.WriteAllText(path, "bindAddr = \"10.0.0.2\"\nbindPort = 7000\ntransport.tls.certFile = \"/etc/frp/server.crt\"\ntransport.tls.keyFile = \"/etc/frp/server.key\"\n");

        var (line, notes) = FrpsImport.Import(FrpFile.Load(path), "./gw");

        Assert.Equal("jumpgate gateway init --dir ./gw --listen 10.0.0.2:7000 --cert /etc/frp/server.crt --key /etc/frp/server.key", line);
        Assert.Contains(notes, n => n.Contains("no subDomainHost: add --domain", StringComparison.Ordinal));
    }
}
