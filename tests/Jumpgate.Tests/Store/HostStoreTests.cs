using Jumpgate.Core.Protocol;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>The hosts agents announced, remembered in a real SQLite file.</summary>
public sealed class HostStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-hosts");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void RemembersTheHostsAnAgentAnnounced()
    {
        var jupyter = new ServiceAnnouncement { Name = "jupyter", Port = 8888, Http = true };
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        _temp.Store.Hosts.Replace("lab-a", [Host("node1", ssh, jupyter), Host("node2", ssh)], Now);
        _temp.Store.Hosts.Replace("lab-b", [Host("node1", ssh)], Now);

        var all = _temp.Store.Hosts.List();

        Assert.Equal([("node1", "lab-a"), ("node1", "lab-b"), ("node2", "lab-a")], all.Select(h => (h.Name, h.Agent)));
        var node1 = all[0];
        Assert.Equal([ssh, jupyter], node1.Services);
        Assert.Equal(Now, node1.LastSeen);
        Assert.Equal(["lab-a", "lab-b"], _temp.Store.Hosts.List("node1").Select(h => h.Agent).Order(StringComparer.Ordinal));
        Assert.Empty(_temp.Store.Hosts.List("node9"));
    }

    [Fact]
    public void ReplacingHostsForgetsTheOnesNoLongerAnnounced()
    {
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        _temp.Store.Hosts.Replace("lab-a", [Host("node1", ssh), Host("node2", ssh)], Now);
        _temp.Store.Hosts.Replace("lab-b", [Host("gpu1", ssh)], Now);

        _temp.Store.Hosts.Replace("lab-a", [Host("node2", ssh)], Now.AddMinutes(1));

        Assert.Equal([("gpu1", "lab-b"), ("node2", "lab-a")], _temp.Store.Hosts.List().Select(h => (h.Name, h.Agent)));

        _temp.Store.Hosts.Replace("lab-a", [], Now.AddMinutes(2));
        Assert.Equal(["gpu1"], _temp.Store.Hosts.List().Select(h => h.Name));
    }

    [Fact]
    public void MarkSeenMovesOnlyThatAgentsHosts()
    {
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        _temp.Store.Hosts.Replace("lab-a", [Host("node1", ssh)], Now);
        _temp.Store.Hosts.Replace("lab-b", [Host("gpu1", ssh)], Now);
        var later = Now.AddHours(3).AddTicks(1234567);

        _temp.Store.Hosts.MarkSeen("lab-a", later);

        Assert.Equal(later, Assert.Single(_temp.Store.Hosts.List("node1")).LastSeen);
        Assert.Equal(Now, Assert.Single(_temp.Store.Hosts.List("gpu1")).LastSeen);
    }

    private static HostAnnouncement Host(string name, params ServiceAnnouncement[] services) => new() { Name = name, Services = services };
}
