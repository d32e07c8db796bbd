using System.Diagnostics.Metrics;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Metrics;
using Xunit;

namespace Jumpgate.Tests.Tunnel;

/// <summary>
/// The one list of live streams that the dashboard, the admin status and the metrics read: a
/// stream is listed from its request, counted as open once its far end answered, and its bytes
/// stay in the totals when it ends; the metrics' open-stream gauge falls once per opened stream,
/// and a service name a user typed for a stream that never opened never becomes a series.
/// </summary>
public sealed class LiveStreamsTests : IAsyncDisposable
{
    private readonly RecordedStreams _recorded = new();
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _seen = new(StringComparer.Ordinal);

    public LiveStreamsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Other tests' gateways run beside this one in the process, each with a meter of the same name.
            if (instrument.Meter.Scope == _recorded.MeterFactory && instrument.Meter.Name == GatewayMetrics.MeterName && instrument.Name is "jumpgate.stream.transferred" or "jumpgate.streams.open")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name + string.Concat(tags.ToArray().Select(t => $" {t.Key}={t.Value}"));
            // The gauge is an up-down counter (deltas); the byte counter is observed whole.
            _seen[key] = instrument.Name == "jumpgate.streams.open" ? _seen.GetValueOrDefault(key) + value : value;
        });
        _listener.Start();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await _recorded.DisposeAsync();
    }

    [Fact]
    public void AnEndedStreamsBytesStayInEveryTotalAndItsOpenCountFallsOnce()
    {
        var (alice, listed) = _recorded.Open("alice", "echo");
        alice.Meters.Add(toService: true, 1000);
        alice.Meters.Add(toService: false, 24);

        Assert.Single(_recorded.Live.Open);
        Assert.Equal(1, _seen["jumpgate.streams.open service=echo"]);
        Assert.Equal((1000L, 24L), _recorded.Live.TotalBytesByService()["echo"]);
        Assert.Equal(1000, Transferred("echo", "to_service"));

        // Ended as the relay ends it: its verdict, then the record's disposal, then the listing's.
        alice.Closed(SpliceOutcome.Completed);
        alice.Dispose();
        listed.Dispose();

        Assert.Empty(_recorded.Live.Open);
        Assert.Equal(0, _seen["jumpgate.streams.open service=echo"]);
        Assert.Equal((1000L, 24L), _recorded.Live.TotalBytes());
        Assert.Equal(1024L, _recorded.Live.TotalBytesByUser()["alice"]);
        Assert.Equal(1000, Transferred("echo", "to_service"));
        Assert.Equal(24, Transferred("echo", "to_user"));
    }

    [Fact]
    public void AStreamThatNeverOpenedIsListedButNeverCountedUnderTheServiceItsUserTyped()
    {
        var (record, listed) = _recorded.Request("bob", "no-such-service");
        using (listed)
        {
            Assert.Single(_recorded.Live.All);
            Assert.Empty(_recorded.Live.Open);
            record.Refuse("no such service");
            record.Dispose();
        }

        Assert.Empty(_recorded.Live.All);
        Assert.DoesNotContain("no-such-service", _recorded.Live.TotalBytesByService().Keys);
        _listener.RecordObservableInstruments();
        Assert.DoesNotContain(_seen.Keys, key => key.Contains("no-such-service", StringComparison.Ordinal));
    }

    private long Transferred(string service, string direction)
    {
        _listener.RecordObservableInstruments();
        return _seen[$"jumpgate.stream.transferred service={service} direction={direction}"];
    }
}
