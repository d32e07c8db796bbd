using System.Diagnostics;
using Xunit;

namespace Jumpgate.TestSupport;

/// <summary>How a user's stream fares: the time to open it, and the median and slowest of 20 round trips of 1 KiB through it.</summary>
public sealed record StreamLatency(TimeSpan Connect, TimeSpan P50, TimeSpan Max)
{
    /// <summary>Opens a stream to <paramref name="host"/>'s <paramref name="service"/> (an echo service) as <paramref name="token"/>'s user from 127.0.0.1 and times it.</summary>
    public static async Task<StreamLatency> MeasureAsync(string gatewayUrl, string token, string host, string service = "echo")
    {
        var watch = Stopwatch.StartNew();
        await using var stream = await TunnelClient.ConnectAsync(gatewayUrl, token, host, service, Signals.Timeout(30));
        var connect = watch.Elapsed;
        Assert.True(stream.Ok, stream.Error);
        var payload = new byte[1024];
        Random.Shared.NextBytes(payload);
        var times = new List<TimeSpan>();
        for (var i = 0; i < 20; i++)
        {
            watch.Restart();
            Assert.Equal(payload, await EchoServer.RoundTripAsync(stream.Stream, payload, Signals.Timeout(10)));
            times.Add(watch.Elapsed);
        }
        times.Sort();
        return new StreamLatency(connect, times[times.Count / 2], times[^1]);
    }
}
