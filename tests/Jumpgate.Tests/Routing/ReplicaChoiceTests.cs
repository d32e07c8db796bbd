using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Routing;
using Xunit;

namespace Jumpgate.Tests.Routing;

/// <summary>Which replica a new stream goes to, and which one a browser session keeps.</summary>
public sealed class ReplicaChoiceTests
{
    private static Replica ReplicaOf(string agent)
    {
        var hosts = new Dictionary<string, HostAnnouncement>
        {
            ["node1"] = new() { Name = "node1", Services = [new ServiceAnnouncement { Name = "echo", Port = 7000 }] },
        };
        return new AgentSession(agent, agent + "-session", hosts).ReplicaOf("node1", "echo")!;
    }

    [Fact]
    public void TheReplicaCarryingFewestStreamsGoesFirst()
    {
        var (a, b, c) = (ReplicaOf("a"), ReplicaOf("b"), ReplicaOf("c"));
        using var a1 = a.Carry();
        using var a2 = a.Carry();
        using var c1 = c.Carry();

        Assert.Equal([b, c, a], StreamAuthorizer.Choose([a, b, c]));
    }

    [Fact]
    public void EqualReplicasShareTheNewStreams()
    {
        var replicas = new[] { ReplicaOf("a"), ReplicaOf("b") };

        // Random ties: in 64 choices both come first (all one way has a chance of 2^-63).
        var first = Enumerable.Range(0, 64).Select(_ => StreamAuthorizer.Choose(replicas)[0].Agent).ToHashSet();

        Assert.Equal(["a", "b"], first.Order());
    }

    [Fact]
    public void AnUnhealthyReplicaOrOneWhoseAgentIsGoneTakesNothing()
    {
        var (a, b, c) = (ReplicaOf("a"), ReplicaOf("b"), ReplicaOf("c"));
        a.Report(healthy: false, "127.0.0.1:7000: Connection refused", DateTimeOffset.UnixEpoch);
        c.Session.End();

        Assert.Equal([b], StreamAuthorizer.Choose([a, b, c]));
        Assert.Empty(StreamAuthorizer.Choose([a]));
        Assert.Empty(StreamAuthorizer.Choose([c]));
    }

    [Fact]
    public void AStreamStopsCountingWhenItEndsOnce()
    {
        var a = ReplicaOf("a");
        var carried = a.Carry();
        Assert.Equal(1, a.OpenStreams);

        carried.Dispose();
        carried.Dispose();

        Assert.Equal(0, a.OpenStreams);
    }

    [Fact]
    public void ABrowserSessionKeepsItsReplicaUntilItIsDownAndThenKeepsTheNewOne()
    {
        var pins = new ReplicaPins();
        var (a, b) = (ReplicaOf("a"), ReplicaOf("b"));
        var first = pins.Choose("session-1", [a, b])!;
        var other = first == a ? b : a;

        // Busier than the other: a new stream would go elsewhere, the session does not.
        using (first.Carry())
        using (first.Carry())
        {
            Assert.Same(first, pins.Choose("session-1", [a, b]));
        }

        first.Report(healthy: false, "down", DateTimeOffset.UnixEpoch);
        Assert.Same(other, pins.Choose("session-1", [a, b]));

        first.Report(healthy: true, "down", DateTimeOffset.UnixEpoch);
        Assert.Same(other, pins.Choose("session-1", [a, b]));
    }

    [Fact]
    public void APinOutlivesItsAgentsReconnect()
    {
        var pins = new ReplicaPins();
        var (a, b) = (ReplicaOf("a"), ReplicaOf("b"));
        var first = pins.Choose("session-1", [a, b])!;

        var reconnected = ReplicaOf(first.Agent);

        Assert.Same(reconnected, pins.Choose("session-1", [a == first ? reconnected : a, b == first ? reconnected : b]));
    }

    [Fact]
    public void NoReplicaAvailableMeansNoChoice()
    {
        var (a, b) = (ReplicaOf("a"), ReplicaOf("b"));
        a.Report(healthy: false, "down", DateTimeOffset.UnixEpoch);
        b.Report(healthy: false, "down", DateTimeOffset.UnixEpoch);

        Assert.Null(new ReplicaPins().Choose("session-1", [a]));
        Assert.Null(new ReplicaPins().Choose("session-1", [a, b]));
    }

    [Fact]
    public void PinsAreBounded()
    {
        var pins = new ReplicaPins();
        var (a, b) = (ReplicaOf("a"), ReplicaOf("b"));

        for (var i = 0; i < ReplicaPins.Capacity + 10; i++)
        {
            pins.Choose($"session-{i}", [a, b]);
        }

        Assert.Equal(ReplicaPins.Capacity, pins.Count);
    }
}
