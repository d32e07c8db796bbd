using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Tunnel;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Http;

/// <summary>Which declared subdomains an agent gets: those its patterns allot and no other host's service holds.</summary>
public sealed class SubdomainClaimsTests : IDisposable
{
    private readonly TempStore _temp = new("jg-claims");
    private readonly AgentRegistry _registry = new();
    private readonly SubdomainClaims _claims;

    public SubdomainClaimsTests() => _claims = new SubdomainClaims(_temp.Store.Principals, _temp.Store.Hosts, _registry);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void RefusesALabelTheAgentsPatternsDoNotAllot()
    {
        var hosts = Announce("evil1", ("tensorboard", "tensorboard"));

        var refusal = Assert.Single(_claims.Settle(Agent("evil", "evil*"), hosts));

        Assert.Equal(("evil1", "tensorboard", "tensorboard"), (refusal.Host, refusal.Service, refusal.Label));
        Assert.Equal("service tensorboard on evil1 is served on tensorboard--evil1 only: subdomain tensorboard is not allotted to agent evil (allowed: evil*); an admin allots it by adding tensorboard to the agent's hosts", refusal.Reason);
        Assert.Null(hosts["evil1"].Services[0].Subdomain);
    }

    [Fact]
    public void GrantsAnAllottedFreeLabel()
    {
        var hosts = Announce("node1", ("tensorboard", "tb"));

        Assert.Empty(_claims.Settle(Agent("lab-a", "node*,tb"), hosts));
        Assert.Equal("tb", hosts["node1"].Services[0].Subdomain);
    }

    [Fact]
    public void RefusesALabelAnotherHostHoldsEvenWhenAllottedAndOffline()
    {
        Store("lab-a", "node*,tb", "node1", ("tensorboard", "tb"));
        var hosts = Announce("lab-pc", ("tensorboard", "tb"));

        var refusal = Assert.Single(_claims.Settle(Agent("lab-c", "lab-pc,tb"), hosts));

        Assert.EndsWith("subdomain tb already belongs to another host's service", refusal.Reason, StringComparison.Ordinal);
        Assert.Null(hosts["lab-pc"].Services[0].Subdomain);
    }

    [Fact]
    public void RefusesALabelAnotherServiceOfTheSameHostHoldsOnline()
    {
        var jupyter = new ServiceAnnouncement { Name = "jupyter", Port = 8888, Http = true, Subdomain = "nb" };
        _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*,nb"), DateTimeOffset.UtcNow);
        _registry.Register(new AgentSession("lab-a", "s1", new Dictionary<string, HostAnnouncement> { ["node1"] = new() { Name = "node1", Services = [jupyter] } }));
        var hosts = Announce("node1", ("tensorboard", "nb"));

        Assert.Single(_claims.Settle(Agent("lab-b", "node1,nb"), hosts));
    }

    [Fact]
    public void AReplicaOfTheSameHostAndServiceSharesTheLabelWithoutAnAllotment()
    {
        Store("lab-a", "node*,tb", "node1", ("tensorboard", "tb"));
        var hosts = Announce("node1", ("tensorboard", "tb"));

        Assert.Empty(_claims.Settle(Agent("lab-b", "node1"), hosts));
        Assert.Equal("tb", hosts["node1"].Services[0].Subdomain);
    }

    [Fact]
    public void AStoredClaimItsAgentMayNoLongerHaveHoldsNothing()
    {
        // Stored before labels were vetted: evil's patterns never allotted tb.
        Store("evil", "evil*", "evil1", ("tensorboard", "tb"));
        var hosts = Announce("node1", ("tensorboard", "tb"));

        Assert.Empty(_claims.Settle(Agent("lab-a", "node*,tb"), hosts));
        // Nor can a "replica" of the stale claim lean on it.
        Assert.Single(_claims.Settle(Agent("evil-b", "evil1"), Announce("evil1", ("tensorboard", "tb"))));
    }

    [Fact]
    public void OneAnnouncementCannotGiveOneLabelToTwoServices()
    {
        var hosts = Announce("node1", ("tensorboard", "tb"), ("jupyter", "tb"));

        var refusal = Assert.Single(_claims.Settle(Agent("lab-a", "node*,tb"), hosts));

        Assert.Equal("jupyter", refusal.Service);
        Assert.Equal(["tb", null], hosts["node1"].Services.Select(s => s.Subdomain));
    }

    private static Principal Agent(string name, string patterns) => new(PrincipalKind.Agent, name, HostPatterns.Parse(patterns), "id-" + name);

    private static Dictionary<string, HostAnnouncement> Announce(string host, params (string Service, string Subdomain)[] services) =>
        new(StringComparer.Ordinal)
        {
            [host] = new()
            {
                Name = host,
                Services = [.. services.Select((s, i) => new ServiceAnnouncement { Name = s.Service, Port = 8000 + i, Http = true, Subdomain = s.Subdomain })],
            },
        };

    private void Store(string agent, string patterns, string host, params (string Service, string Subdomain)[] services)
    {
        _temp.Store.Principals.Add(PrincipalKind.Agent, agent, HostPatterns.Parse(patterns), DateTimeOffset.UtcNow);
        _temp.Store.Hosts.Replace(agent, [.. Announce(host, services).Values], DateTimeOffset.UtcNow);
    }
}
