using System.Net;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Http;

/// <summary>Which requests are the gateway's own, which name a service, and which are not for this gateway at all.</summary>
public sealed class ServiceRouterTests : IDisposable
{
    private readonly TempStore _temp = new("jg-router");
    private readonly AgentRegistry _registry = new();
    private readonly ServiceRouter _router;

    public ServiceRouterTests()
    {
        var options = new GatewayOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 7443), Domain = "gw.example.org",
            CertificatePath = "", KeyPath = "", Store = StoreLocation.Sqlite(_temp.Path),
        };
        _router = new ServiceRouter(options, _registry, _temp.Store.Hosts);
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
    public void FollowsAgentsAsTheyComeAndGoWithReplicasInAgentOrder()
    {
        static AgentSession Serving(string agent, params ServiceAnnouncement[] services) => new(agent, agent + "-session",
            new Dictionary<string, HostAnnouncement> { ["node1"] = new() { Name = "node1", Services = services } });
        var jupyter = new ServiceAnnouncement { Name = "jupyter", Port = 8888, Http = true, Subdomain = "notebooks" };
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        var (b, a) = (Serving("lab-b", jupyter, ssh), Serving("lab-a", jupyter));

        _registry.Register(b);
        Assert.Equal(["lab-b"], _router.Resolve("jupyter--node1")!.Online.Select(o => o.Session.Agent));
        _registry.Register(a);
        var target = _router.Resolve("notebooks")!;
        Assert.Equal(("node1", "jupyter"), (target.Host, target.Service));
        Assert.Equal(["lab-a", "lab-b"], target.Online.Select(o => o.Session.Agent));
        Assert.Empty(_router.Resolve("ssh--node1")!.Online);

        Assert.True(_registry.Unregister(a));
        Assert.Equal(["lab-b"], _router.Resolve("notebooks")!.Online.Select(o => o.Session.Agent));
        Assert.True(_registry.Unregister(b));
        Assert.Empty(_router.Resolve("jupyter--node1")!.Online);
    }

    [Fact]
    public void ALabelTwoDifferentHostsServeLeadsToNeitherWhateverTheirAgentsAreCalled()
    {
        // The gateway never grants this (SubdomainClaims); should it happen, no agent wins by its name.
        static AgentSession Serving(string agent, string host) => new(agent, agent + "-session",
            new Dictionary<string, HostAnnouncement> { [host] = new() { Name = host, Services = [new ServiceAnnouncement { Name = "tensorboard", Port = 6006, Http = true, Subdomain = "tensorboard" }] } });
        _registry.Register(Serving("lab-a", "node1"));
        _registry.Register(Serving("evil", "evil1"));

        Assert.Null(_router.Resolve("tensorboard"));
        Assert.Equal(["lab-a"], _router.Resolve("tensorboard--node1")!.Online.Select(o => o.Session.Agent));
        Assert.Equal(["evil"], _router.Resolve("tensorboard--evil1")!.Online.Select(o => o.Session.Agent));
    }

    [Fact]
    public void BuildsServiceAddressesOnThePortTheGatewayWasReachedOn()
    {
        Assert.Equal("https://jupyter--node1.gw.example.org:7443/", _router.UrlOf("jupyter--node1", "gw.example.org:7443"));
        Assert.Equal("https://jupyter--node1.gw.example.org/", _router.UrlOf("jupyter--node1", "gw.example.org:443"));
        Assert.Equal("https://gw.example.org", _router.GatewayUrl("127.0.0.1"));
    }
}
