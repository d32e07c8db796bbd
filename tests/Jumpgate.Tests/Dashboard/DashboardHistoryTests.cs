using Jumpgate.Gateway.Dashboard;
using Jumpgate.Gateway.Tunnel;
using Jumpgate.Tests.Tunnel;
using Xunit;

namespace Jumpgate.Tests.Dashboard;

/// <summary>
/// The sparklines' samples: open streams and bytes moved per interval, for the gateway and for
/// each user apart, counting a stream that ended between two samples, and forgetting a user who
/// has been idle for the whole hour.
/// </summary>
public sealed class DashboardHistoryTests : IAsyncDisposable
{
    private readonly RecordedStreams _streams = new();
    private readonly DashboardHistory _history;

    public DashboardHistoryTests() => _history = new DashboardHistory(_streams.Live, TimeProvider.System);

    public ValueTask DisposeAsync() => _streams.DisposeAsync();

    [Fact]
    public void EachUserSeesOnlyTheirOwnStreamsAndBytesAndTheGatewaySeesAll()
    {
        var (alice, aliceListed) = Open("alice");
        var (bob, bobListed) = Open("bob");
        alice.Meters.Add(toService: true, 1000);
        alice.Meters.Add(toService: false, 24);
        bob.Meters.Add(toService: true, 5);

        _history.Sample();

        Assert.Equal([2], _history.View(null).Streams);
        Assert.Equal([1029L], _history.View(null).Bytes);
        Assert.Equal([1], _history.View("alice").Streams);
        Assert.Equal([1024L], _history.View("alice").Bytes);
        Assert.Equal([5L], _history.View("bob").Bytes);
        Assert.Equal([0], _history.View("carol").Streams);

        // Bob's stream moves more and ends before the next sample: its bytes still count, in its interval.
        bob.Meters.Add(toService: false, 70);
        bobListed.Dispose();
        _history.Sample();

        Assert.Equal([2, 1], _history.View(null).Streams);
        Assert.Equal([1029L, 70L], _history.View(null).Bytes);
        Assert.Equal([1, 0], _history.View("bob").Streams);
        Assert.Equal([5L, 70L], _history.View("bob").Bytes);
        Assert.Equal([1024L, 0L], _history.View("alice").Bytes);
        aliceListed.Dispose();
    }

    [Fact]
    public void KeepsOneHourAndForgetsAUserIdleForAllOfIt()
    {
        var (_, listed) = Open("alice");
        _history.Sample();
        listed.Dispose();
        var before = _history.Version;
        for (var i = 0; i < DashboardHistory.Points + 5; i++)
        {
            _history.Sample();
        }

        Assert.Equal(before + DashboardHistory.Points + 5, _history.Version);
        Assert.Equal(DashboardHistory.Points, _history.View(null).Streams.Count);
        Assert.All(_history.View(null).Streams, open => Assert.Equal(0, open));
        // Alice's ring is gone; her view is the hour's zeros, as for any user without streams.
        Assert.Equal(DashboardHistory.Points, _history.View("alice").Streams.Count);
        Assert.All(_history.View("alice").Streams, open => Assert.Equal(0, open));
    }

    private (StreamRecord Record, LiveStreams.Listing Listed) Open(string user) => _streams.Open(user);
}
