using Jumpgate.Core.Protocol;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>The hosts agents announced, remembered in each backend (a real SQLite file, a real PostgreSQL database).</summary>
public sealed class HostStoreTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void RemembersTheHostsAnAgentAnnounced(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-hosts");
        var jupyter = new ServiceAnnouncement { Name = "jupyter", Port = 8888, Http = true };
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        temp.Store.Hosts.Replace("lab-a", [Host("node1", ssh, jupyter), Host("node2", ssh)], Now);
        temp.Store.Hosts.Replace("lab-b", [Host("node1", ssh)], Now);

        var all = temp.Store.Hosts.List();

        Assert.Equal([("node1", "lab-a"), ("node1", "lab-b"), ("node2", "lab-a")], all.Select(h => (h.Name, h.Agent)));
        var node1 = all[0];
        Assert.Equal([ssh, jupyter], node1.Services);
        Assert.Equal(Now, node1.LastSeen);
        Assert.Equal(["lab-a", "lab-b"], temp.Store.Hosts.List("node1").Select(h => h.Agent).Order(StringComparer.Ordinal));
        Assert.Empty(temp.Store.Hosts.List("node9"));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ReplacingHostsForgetsTheOnesNoLongerAnnounced(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-hosts");
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        temp.Store.Hosts.Replace("lab-a", [Host("node1", ssh), Host("node2", ssh)], Now);
        temp.Store.Hosts.Replace("lab-b", [Host("gpu1", ssh)], Now);

        temp.Store.Hosts.Replace("lab-a", [Host("node2", ssh)], Now.AddMinutes(1));

        Assert.Equal([("gpu1", "lab-b"), ("node2", "lab-a")], temp.Store.Hosts.List().Select(h => (h.Name, h.Agent)));

        temp.Store.Hosts.Replace("lab-a", [], Now.AddMinutes(2));
        Assert.Equal(["gpu1"], temp.Store.Hosts.List().Select(h => h.Name));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void MarkSeenMovesOnlyThatAgentsHosts(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-hosts");
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        temp.Store.Hosts.Replace("lab-a", [Host("node1", ssh)], Now);
        temp.Store.Hosts.Replace("lab-b", [Host("gpu1", ssh)], Now);
        var later = Now.AddHours(3).AddTicks(1234567);

        temp.Store.Hosts.MarkSeen("lab-a", later);

        Assert.Equal(later, Assert.Single(temp.Store.Hosts.List("node1")).LastSeen);
        Assert.Equal(Now, Assert.Single(temp.Store.Hosts.List("gpu1")).LastSeen);
    }

    private static HostAnnouncement Host(string name, params ServiceAnnouncement[] services) => new() { Name = name, Services = services };
}
