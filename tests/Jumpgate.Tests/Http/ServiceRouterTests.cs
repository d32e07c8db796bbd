using System.Net;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Http;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Http;

/// <summary>Which requests are the gateway's own, which name a service, and which are not for this gateway at all.</summary>
public sealed class ServiceRouterTests : IDisposable
{
    private readonly TempStore _temp = new("jg-router");
    private readonly ServiceRouter _router;

    public ServiceRouterTests()
    {
        var options = new GatewayOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 7443), Domain = "gw.example.org",
            CertificatePath = "", KeyPath = "", StorePath = _temp.Store.Path,
        };
        _router = new ServiceRouter(options, new AgentRegistry(), _temp.Store);
    }

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("gw.example.org", "Gateway", "")]
    [InlineData("gw.example.org:7443", "Gateway", "")]
    [InlineData("GW.Example.ORG.", "Gateway", "")]
    [InlineData("127.0.0.1:7443", "Gateway", "")]
    [InlineData("[::1]:7443", "Gateway", "")]
    [InlineData("jupyter--node1.gw.example.org:7443", "Service", "jupyter--node1")]
    [InlineData("notebooks.gw.example.org", "Service", "notebooks")]
    [InlineData("a.b.gw.example.org", "Foreign", "")]
    [InlineData("evil.example.org", "Foreign", "")]
    [InlineData("xgw.example.org", "Foreign", "")]
    public void ClassifiesTheHostHeader(string host, string kind, string label)
    {
        Assert.Equal(Enum.Parse<HostKind>(kind), _router.Classify(host, out var found));
        if (kind == nameof(HostKind.Service))
        {
            Assert.Equal(label, found);
        }
    }

    [Fact]
    public void ReadsServiceAndHostFromALabelNobodyServesYet()
    {
        var target = _router.Resolve("tensorboard--gpu-node-1");

        Assert.NotNull(target);
        Assert.Equal(("gpu-node-1", "tensorboard"), (target.Host, target.Service));
        Assert.Empty(target.Online);
        Assert.Null(_router.Resolve("not-a-service-label"));
    }

    [Fact]
    public void BuildsServiceAddressesOnThePortTheGatewayWasReachedOn()
    {
        Assert.Equal("https://jupyter--node1.gw.example.org:7443/", _router.UrlOf("jupyter--node1", "gw.example.org:7443"));
        Assert.Equal("https://jupyter--node1.gw.example.org/", _router.UrlOf("jupyter--node1", "gw.example.org:443"));
        Assert.Equal("https://gw.example.org", _router.GatewayUrl("127.0.0.1"));
    }
}
