using Jumpgate.Agent.Configuration;
using Jumpgate.Core.Config;
using Jumpgate.Core.Security;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Config;

public sealed class AgentOptionsTests : IDisposable
{
    private const string Pin = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

    /// <summary>A complete agent.yaml; the tests below break one line of it at a time (line numbers in the comments).</summary>
    private const string Valid = $$"""
        gateway: https://gw.example.org:7443
        fingerprint: {{Pin}}
        token_file: agent.token
        hosts:
          node1:
            address: 10.0.1.50
            services:
              ssh: 22
              jupyter: { port: 8888, http: true }
          lab-pc:
            address: 127.0.0.1
            services:
              ssh: 22
        pool_size: 8
        reconnect_max_delay: 2s
        drain_timeout: 10s
        connect_timeout: 3s
        """;

    private readonly TempDirectory _directory = new("jg-agent-config");
    private readonly TokenSecret _token = TokenSecret.Create(PrincipalKind.Agent);

    public AgentOptionsTests()
    {
        SecretFiles.Write(_directory.File("agent.token"), _token + "\n");
    }

    private string ConfigPath => _directory.File("agent.yaml");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void ReadsACompleteFile()
    {
        var options = Parse(Valid);

        Assert.Equal(new Uri("https://gw.example.org:7443"), options.Gateway.Address);
        Assert.Equal(Fingerprint.Parse(Pin), options.Gateway.Pinned);
        Assert.Equal(_token.ToString(), options.Token);
        Assert.Equal(["lab-pc", "node1"], options.Hosts.Keys.Order(StringComparer.Ordinal));
        var node1 = options.Hosts["node1"];
        Assert.Equal("10.0.1.50", node1.Address);
        Assert.Equal(new ServiceTarget("ssh", 22, Http: false), node1.Services["ssh"]);
        Assert.Equal(new ServiceTarget("jupyter", 8888, Http: true), node1.Services["jupyter"]);
        Assert.Equal("127.0.0.1", options.Hosts["lab-pc"].Address);
        Assert.Equal(8, options.PoolSize);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReconnectMaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(10), options.DrainTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), options.ConnectTimeout);
    }

    [Fact]
    public void FillsInDefaultsForWhatIsLeftOut()
    {
        var options = Parse("""
            gateway: https://gw.example.org
            token_file: agent.token
            hosts:
              node1:
                address: node1.lab.internal
                services: { ssh: 22 }
            """);

        Assert.Null(options.Gateway.Pinned);
        Assert.Null(options.PoolSize);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.ReconnectMaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(5), options.DrainTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ConnectTimeout);
    }

    [Fact]
    public void AnnouncesItsHostsAndServices()
    {
        var announcement = Parse(Valid).Announcement();

        var node1 = Assert.Single(announcement, h => h.Name == "node1");
        Assert.Contains(node1.Services, s => s is { Name: "jupyter", Port: 8888, Http: true });
        Assert.Contains(node1.Services, s => s is { Name: "ssh", Port: 22, Http: false });
        Assert.Contains(announcement, h => h.Name == "lab-pc");
    }

    [Fact]
    public void ReportsAnUnknownKeyWithTheKnownOnes()
    {
        var errors = Errors(Valid.Replace("pool_size: 8", "pool_sise: 8", StringComparison.Ordinal));

        var error = Assert.Single(errors);
        AssertAt(error, 14, "pool_sise");
        Assert.Contains("unknown setting", error.Message, StringComparison.Ordinal);
        Assert.Contains("pool_size", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsAnUnknownKeyInsideAHost()
    {
        var errors = Errors(Valid.Replace("    address: 10.0.1.50", "    adress: 10.0.1.50", StringComparison.Ordinal));

        Assert.Contains(errors, e => e.Field == "hosts.node1.adress" && e.Line == 6 && e.Message.Contains("unknown setting", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Field == "hosts.node1.address" && e.Message.Contains("required", StringComparison.Ordinal));
    }

    [Fact]
    public void ReportsAMissingGateway()
    {
        var error = Assert.Single(Errors(Valid.Replace("gateway: https://gw.example.org:7443\n", "", StringComparison.Ordinal)));

        Assert.Equal("gateway", error.Field);
        Assert.Contains("required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadsAListOfGatewaysEachWithTheOneFingerprint()
    {
        var options = Parse(Valid.Replace("gateway: https://gw.example.org:7443\n",
            "gateway:\n  - https://gw1.example.org:7443\n  - https://gw2.example.org:7443\n", StringComparison.Ordinal));

        Assert.Equal([new Uri("https://gw1.example.org:7443"), new Uri("https://gw2.example.org:7443")], options.Gateways.Select(g => g.Address));
        Assert.All(options.Gateways, g => Assert.Equal(Fingerprint.Parse(Pin), g.Pinned));
        Assert.Equal(options.Gateways[0], options.Gateway);
    }

    [Fact]
    public void OneGatewayIsAListOfOne()
    {
        var options = Parse(Valid);

        Assert.Equal([options.Gateway], options.Gateways);
    }

    [Theory]
    [InlineData("gateway: [https://gw1.example.org, http://gw2.example.org]\n", "gateway[1]", "https://")]
    [InlineData("gateway: [https://gw1.example.org, https://gw1.example.org]\n", "gateway[1]", "listed twice")]
    [InlineData("gateway: [https://gw1.example.org, { a: b }]\n", "gateway[1]", "non-empty text")]
    [InlineData("gateway: []\n", "gateway", "non-empty list")]
    [InlineData("gateway: { url: https://gw1.example.org }\n", "gateway", "list")]
    public void ReportsABadGatewayInAListByItsPlace(string line, string field, string words)
    {
        var error = Assert.Single(Errors(Valid.Replace("gateway: https://gw.example.org:7443\n", line, StringComparison.Ordinal)));

        AssertAt(error, 1, field);
        Assert.Contains(words, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://gw.example.org:7443")]
    [InlineData("gw.example.org:7443")]
    [InlineData("https://gw.example.org:99999")]
    [InlineData("ftp://gw.example.org")]
    public void ReportsAGatewayThatIsNotAnHttpsUrl(string address)
    {
        var error = Assert.Single(Errors(Valid.Replace("https://gw.example.org:7443", address, StringComparison.Ordinal)));

        AssertAt(error, 1, "gateway");
        Assert.Contains("https://", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SHA256:abc")]
    [InlineData("not-a-fingerprint")]
    [InlineData("[1, 2]")]
    public void ReportsABadFingerprint(string fingerprint)
    {
        var error = Assert.Single(Errors(Valid.Replace(Pin, fingerprint, StringComparison.Ordinal)));

        AssertAt(error, 2, "fingerprint");
    }

    [Theory]
    [InlineData("70000")]
    [InlineData("0")]
    [InlineData("-22")]
    [InlineData("abc")]
    [InlineData("22.5")]
    [InlineData("0x16")]
    public void ReportsAPortOutOfRangeOrNotANumber(string port)
    {
        var error = Assert.Single(Errors(Valid.Replace("      ssh: 22\n      jupyter", $"      ssh: {port}\n      jupyter", StringComparison.Ordinal)));

        AssertAt(error, 8, "hosts.node1.services.ssh");
        Assert.Contains("1 to 65535", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsABadPortInTheLongServiceForm()
    {
        var error = Assert.Single(Errors(Valid.Replace("port: 8888", "port: abc", StringComparison.Ordinal)));

        AssertAt(error, 9, "hosts.node1.services.jupyter.port");
    }

    [Fact]
    public void ReportsALongServiceFormWithoutAPort()
    {
        var error = Assert.Single(Errors(Valid.Replace("port: 8888, ", "", StringComparison.Ordinal)));

        Assert.Equal("hosts.node1.services.jupyter.port", error.Field);
        Assert.Contains("required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsAnHttpFlagThatIsNotABoolean()
    {
        var error = Assert.Single(Errors(Valid.Replace("http: true", "http: yes-please", StringComparison.Ordinal)));

        AssertAt(error, 9, "hosts.node1.services.jupyter.http");
    }

    [Theory]
    [InlineData("Node1")]
    [InlineData("node_1")]
    [InlineData("node--1")]
    [InlineData("-node1")]
    public void ReportsAnInvalidHostName(string name)
    {
        var error = Assert.Single(Errors(Valid.Replace("  node1:", $"  {name}:", StringComparison.Ordinal)));

        AssertAt(error, 5, $"hosts.{name}");
        Assert.Contains("not a valid host name", error.Message, StringComparison.Ordinal);
        Assert.Contains(Jumpgate.Core.Naming.Names.Rule, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsAnInvalidServiceName()
    {
        var error = Assert.Single(Errors(Valid.Replace("      ssh: 22\n      jupyter", "      SSH: 22\n      jupyter", StringComparison.Ordinal)));

        AssertAt(error, 8, "hosts.node1.services.SSH");
    }

    [Fact]
    public void ReportsAnAddressThatIsNeitherAnIpNorADnsName()
    {
        var error = Assert.Single(Errors(Valid.Replace("10.0.1.50", "'not a host!'", StringComparison.Ordinal)));

        AssertAt(error, 6, "hosts.node1.address");
    }

    [Fact]
    public void ReportsInvalidYamlSyntaxWithItsLine()
    {
        var error = Assert.Single(Errors(Valid.Replace("address: 10.0.1.50", "address: 10.0.1.50: oops", StringComparison.Ordinal)));

        Assert.Equal(ConfigPath, error.File);
        Assert.Equal("(syntax)", error.Field);
        Assert.Equal(6, error.Line);
    }

    [Fact]
    public void ReportsAServiceGivenAsAList()
    {
        var error = Assert.Single(Errors(Valid.Replace("      ssh: 22\n      jupyter", "      ssh: [22]\n      jupyter", StringComparison.Ordinal)));

        AssertAt(error, 8, "hosts.node1.services.ssh");
        Assert.Contains("port number or a mapping", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsServicesGivenAsAList()
    {
        var errors = Errors("""
            gateway: https://gw.example.org
            token_file: agent.token
            hosts:
              node1:
                address: 10.0.1.50
                services: [ssh, jupyter]
            """);

        AssertAt(Assert.Single(errors), 6, "hosts.node1.services");
    }

    [Fact]
    public void ReportsAHostsSectionWithNoHosts()
    {
        var error = Assert.Single(Errors("""
            gateway: https://gw.example.org
            token_file: agent.token
            hosts: {}
            """));

        Assert.Equal("hosts", error.Field);
        Assert.Contains("no hosts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsAMissingTokenFile()
    {
        var error = Assert.Single(Errors(Valid.Replace("token_file: agent.token", "token_file: missing.token", StringComparison.Ordinal)));

        AssertAt(error, 3, "token_file");
        Assert.Contains(_directory.File("missing.token"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsATokenFileThatHoldsAUserToken()
    {
        var user = TokenSecret.Create(PrincipalKind.User);
        SecretFiles.Write(_directory.File("user.token"), user.ToString());

        var error = Assert.Single(Errors(Valid.Replace("token_file: agent.token", "token_file: user.token", StringComparison.Ordinal)));

        AssertAt(error, 3, "token_file");
        Assert.Contains("agent token", error.Message, StringComparison.Ordinal);
        // The error names the file, never what is in it.
        Assert.DoesNotContain(user.Secret, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(UnixFileMode.OtherRead, "can be read by other users (mode 0604)")]
    [InlineData(UnixFileMode.GroupRead, "can be read by other users (mode 0640)")]
    [InlineData(UnixFileMode.GroupWrite, "can be changed by other users (mode 0620)")]
    public void RefusesATokenFileOthersCanReadOrChange(UnixFileMode extra, string words)
    {
        var path = _directory.File("agent.token");
        File.SetUnixFileMode(path, PrivateFile.OwnerOnly | extra);

        var error = Assert.Single(Errors(Valid));

        AssertAt(error, 3, "token_file");
        Assert.Contains($"{path} {words}", error.Message, StringComparison.Ordinal);
        Assert.EndsWith($"fix it with `chmod 600 {path}`", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_token.Secret, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10s")]
    [InlineData("50ms")]
    [InlineData("soon")]
    public void ReportsAReconnectDelayOutOfRange(string delay)
    {
        var error = Assert.Single(Errors(Valid.Replace("reconnect_max_delay: 2s", $"reconnect_max_delay: {delay}", StringComparison.Ordinal)));

        AssertAt(error, 15, "reconnect_max_delay");
    }

    [Fact]
    public void ReportsEveryErrorAtOnce()
    {
        var text = Valid
            .Replace("https://gw.example.org:7443", "http://gw.example.org:7443", StringComparison.Ordinal)
            .Replace(Pin, "SHA256:junk", StringComparison.Ordinal)
            .Replace("      ssh: 22\n      jupyter", "      ssh: 70000\n      jupyter", StringComparison.Ordinal)
            .Replace("  lab-pc:", "  Lab-PC:", StringComparison.Ordinal)
            .Replace("pool_size: 8", "pool_sise: 8", StringComparison.Ordinal);

        var exception = Assert.Throws<ConfigException>(() => Parse(text));

        Assert.Equal(5, exception.Errors.Count);
        Assert.Equal([1, 2, 8, 10, 14], exception.Errors.Select(e => e.Line).Order());
        Assert.All(exception.Errors, e => Assert.Equal(ConfigPath, e.File));
        foreach (var error in exception.Errors)
        {
            // The message a person sees lists each one as file:line:column: field: problem.
            Assert.Contains($"{ConfigPath}:{error.Line}:{error.Column}: {error.Field}: ", exception.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ReadsAnHttpServicesOwnSubdomainHostModeAndToken()
    {
        File.WriteAllText(_directory.File("jupyter.token"), "s3cret-jupyter-token\n");
        var options = Parse(Valid.Replace("jupyter: { port: 8888, http: true }",
            "jupyter: { port: 8888, http: true, subdomain: notebooks, preserve_host: true, token_file: jupyter.token }", StringComparison.Ordinal));

        var jupyter = options.Hosts["node1"].Services["jupyter"];
        Assert.Equal("notebooks", jupyter.Subdomain);
        Assert.True(jupyter.PreserveHost);
        Assert.Equal("s3cret-jupyter-token", jupyter.Token);
        var announced = Assert.Single(Assert.Single(options.Announcement(), h => h.Name == "node1").Services, s => s.Name == "jupyter");
        Assert.Equal("10.0.1.50:8888", announced.UpstreamHost);
        Assert.Equal("s3cret-jupyter-token", announced.Token);
    }

    [Fact]
    public void ReportsAServiceTokenFileThatCannotBeRead()
    {
        var error = Assert.Single(Errors(Valid.Replace("http: true }", "http: true, token_file: missing.token }", StringComparison.Ordinal)));

        AssertAt(error, 9, "hosts.node1.services.jupyter.token_file");
        Assert.Contains("missing.token", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("subdomain: Notebooks")]
    [InlineData("subdomain: a.b")]
    [InlineData("subdomain: a--b")]
    public void ReportsASubdomainThatIsNotOneDnsLabel(string setting)
    {
        var error = Assert.Single(Errors(Valid.Replace("http: true }", $"http: true, {setting} }}", StringComparison.Ordinal)));

        AssertAt(error, 9, "hosts.node1.services.jupyter.subdomain");
    }

    [Fact]
    public void ReportsHttpSettingsOnAServiceThatIsNotHttp()
    {
        var error = Assert.Single(Errors(Valid.Replace("http: true }", "http: false, subdomain: notebooks }", StringComparison.Ordinal)));

        Assert.Equal("hosts.node1.services.jupyter", error.Field);
        Assert.Contains("http: true", error.Message, StringComparison.Ordinal);
    }

    private AgentOptions Parse(string text) => AgentOptions.Parse(YamlFile.FromText(ConfigPath, text));

    private IReadOnlyList<ConfigError> Errors(string text) => Assert.Throws<ConfigException>(() => Parse(text)).Errors;

    private void AssertAt(ConfigError error, int line, string field)
    {
        Assert.Equal(ConfigPath, error.File);
        Assert.Equal(field, error.Field);
        Assert.Equal(line, error.Line);
        Assert.True(error.Column > 0, $"no column in {error}");
    }
}
