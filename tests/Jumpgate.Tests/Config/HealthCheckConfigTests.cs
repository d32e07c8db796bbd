using Jumpgate.Agent.Configuration;
using Jumpgate.Core.Config;
using Jumpgate.Core.Security;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Config;

/// <summary>A service's <c>health:</c> in agent.yaml: its forms, its defaults, and every bad value named with file, line and field.</summary>
public sealed class HealthCheckConfigTests : IDisposable
{
    private readonly TempDirectory _directory = new("jg-health-config");

    public HealthCheckConfigTests()
    {
        SecretFiles.Write(_directory.File("agent.token"), TokenSecret.Create(PrincipalKind.Agent) + "\n");
    }

    public void Dispose() => _directory.Dispose();

    private string ConfigPath => _directory.File("agent.yaml");

    /// <summary>agent.yaml with node1's echo service written as <paramref name="echo"/>; the service is on line 7.</summary>
    private static string WithEcho(string echo) => $"""
        gateway: https://gw.example.org
        token_file: agent.token
        hosts:
          node1:
            address: 127.0.0.1
            services:
              echo: {echo}
        """;

    [Fact]
    public void AServiceWithoutHealthIsCheckedWithAConnectEveryFiveSeconds()
    {
        var health = Echo("7000");

        Assert.Same(HealthCheck.Default, health);
        Assert.True(health.Enabled);
        Assert.Null(health.HttpPath);
        Assert.Equal(TimeSpan.FromSeconds(5), health.Interval);
        Assert.Equal(TimeSpan.FromSeconds(2), health.Timeout);
        Assert.Equal(3, health.UnhealthyAfter);
        Assert.Equal(2, health.HealthyAfter);
    }

    [Fact]
    public void TcpAndOffAreWords()
    {
        Assert.Equal(HealthCheck.Default, Echo("{ port: 7000, health: tcp }"));
        Assert.False(Echo("{ port: 7000, health: off }").Enabled);
    }

    [Fact]
    public void ReadsEveryKeyOfTheMapping()
    {
        var health = Echo("{ port: 7000, http: true, health: { http: /api, expect: 204, interval: 10s, timeout: 3s, unhealthy_after: 4, healthy_after: 1 } }");

        Assert.Equal(new HealthCheck
        {
            HttpPath = "/api", Expect = 204, Interval = TimeSpan.FromSeconds(10), Timeout = TimeSpan.FromSeconds(3), UnhealthyAfter = 4, HealthyAfter = 1,
        }, health);
    }

    [Fact]
    public void AMappingWithoutHttpChecksWithAConnectAndATimeoutThatFitsTheInterval()
    {
        var health = Echo("{ port: 7000, health: { interval: 1s } }");

        Assert.Null(health.HttpPath);
        Assert.Equal(TimeSpan.FromSeconds(1), health.Interval);
        Assert.Equal(TimeSpan.FromSeconds(1), health.Timeout);
        Assert.Equal(3, health.UnhealthyAfter);
    }

    [Theory]
    [InlineData("{ port: 7000, health: { htp: /api } }", "hosts.node1.services.echo.health.htp", "unknown setting")]
    [InlineData("{ port: 7000, health: { http: api } }", "hosts.node1.services.echo.health.http", "starts with /")]
    [InlineData("{ port: 7000, health: { http: '/a b' } }", "hosts.node1.services.echo.health.http", "starts with /")]
    [InlineData("{ port: 7000, health: { http: /api, expect: 42 } }", "hosts.node1.services.echo.health.expect", "100 to 599")]
    [InlineData("{ port: 7000, health: { expect: 200 } }", "hosts.node1.services.echo.health.expect", "add `http: /path`")]
    [InlineData("{ port: 7000, health: { interval: soon } }", "hosts.node1.services.echo.health.interval", "duration")]
    [InlineData("{ port: 7000, health: { interval: 10ms } }", "hosts.node1.services.echo.health.interval", "from 100 ms to 60 min")]
    [InlineData("{ port: 7000, health: { interval: 1s, timeout: 2s } }", "hosts.node1.services.echo.health.timeout", "at most the interval")]
    [InlineData("{ port: 7000, health: { unhealthy_after: 0 } }", "hosts.node1.services.echo.health.unhealthy_after", "1 to 100")]
    [InlineData("{ port: 7000, health: { healthy_after: many } }", "hosts.node1.services.echo.health.healthy_after", "1 to 100")]
    [InlineData("{ port: 7000, health: http }", "hosts.node1.services.echo.health", "expected tcp, off, or a mapping")]
    [InlineData("{ port: 7000, health: [tcp] }", "hosts.node1.services.echo.health", "expected tcp, off, or a mapping")]
    public void NamesTheFileLineAndFieldOfABadValue(string echo, string field, string words)
    {
        var error = Assert.Single(Assert.Throws<ConfigException>(() => Parse(WithEcho(echo))).Errors);

        Assert.Equal(ConfigPath, error.File);
        Assert.Equal(7, error.Line);
        Assert.Equal(field, error.Field);
        Assert.Contains(words, error.Message, StringComparison.Ordinal);
    }

    private HealthCheck Echo(string echo) => Parse(WithEcho(echo)).Hosts["node1"].Services["echo"].Health;

    private AgentOptions Parse(string text) => AgentOptions.Parse(YamlFile.FromText(ConfigPath, text));
}
