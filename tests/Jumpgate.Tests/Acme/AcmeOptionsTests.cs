using System.Net;
using Jumpgate.Core.Config;
using Jumpgate.Gateway.Acme;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Hosting;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Acme;

/// <summary>gateway.yaml's acme: section, as `gateway init --acme` writes it and as a person mistypes it.</summary>
public sealed class AcmeOptionsTests
{
    [Fact]
    public void InitWritesASectionTheGatewayReads()
    {
        using var dir = new TempDirectory("jg-acme-init");
        var fingerprint = GatewayInit.Run(dir.Path, new IPEndPoint(IPAddress.Loopback, 0), "gw.example.org", null, null,
            acme: new AcmeInit("admin@example.org", null, "dns-01", null, "10.0.0.2:5353", "example.org", "acme-key", "/etc/bind/acme.key"));

        Assert.Null(fingerprint);
        Assert.False(File.Exists(dir.File("gateway.crt")));
        var acme = GatewayOptions.Load(dir.Path).Acme!;
        Assert.Equal("admin@example.org", acme.Email);
        Assert.Equal(AcmeOptions.LetsEncrypt, acme.Directory);
        Assert.Equal(AcmeChallengeKind.Dns01, acme.Challenge);
        Assert.Equal(IPEndPoint.Parse("10.0.0.2:5353"), acme.Dns!.Server);
        Assert.Equal(TimeSpan.FromDays(30), acme.RenewBefore);
        Assert.Equal(Path.Combine(dir.Path, "acme"), acme.StateDirectory);
    }

    [Fact]
    public void ReportsEveryMistakeWithItsField()
    {
        using var dir = new TempDirectory("jg-acme-bad");
        File.WriteAllText(dir.File("gateway.yaml"), """
            listen: 127.0.0.1:7443
            acme:
              email: nobody
              directory: http://ca.example.org/dir
              challenge: tls-alpn-01
              renew_before: soon
              dns:
                provider: route53
            """);

        var errors = Assert.Throws<ConfigException>(() => GatewayOptions.Load(dir.Path)).Errors.Select(e => e.Field).ToList();

        Assert.Contains("acme.email", errors);
        Assert.Contains("acme.directory", errors);
        Assert.Contains("acme.challenge", errors);
        Assert.Contains("acme.renew_before", errors);
        Assert.Contains("acme.dns.provider", errors);
        Assert.Contains("acme.dns.server", errors);
    }

    [Fact]
    public void Dns01NeedsItsDnsSection()
    {
        using var dir = new TempDirectory("jg-acme-dns");
        File.WriteAllText(dir.File("gateway.yaml"), """
            listen: 127.0.0.1:7443
            acme:
              email: admin@example.org
              challenge: dns-01
            """);

        var error = Assert.Single(Assert.Throws<ConfigException>(() => GatewayOptions.Load(dir.Path)).Errors);
        Assert.Equal("acme.dns", error.Field);
    }
}
