using System.Diagnostics;
using System.Net.Sockets;

namespace Jumpgate.Bench.Support;

/// <summary>
/// A bounded stream of new connections at a steady rate, as users arriving one after another make
/// it: one every 1/rate seconds for a fixed time, each started on schedule whether or not the ones
/// before it have finished, each open, 64 bytes out and back (checked), close. Bounded in count
/// (rate × seconds) and in time (each connection has its own timeout). What the failover figures
/// count failures and gaps in.
/// </summary>
internal static class PacedConnections
{
    /// <summary>One connection: when it was started and when it ended, in ms on the caller's clock, and whether its bytes came back.</summary>
    internal readonly record struct Attempt(double StartedMs, double EndedMs, bool Ok);

    public static async Task<IReadOnlyList<Attempt>> RunAsync(int port, int perSecond, TimeSpan duration, TimeSpan eachTimeout, Stopwatch clock)
    {
        var count = (int)(perSecond * duration.TotalSeconds);
        var period = 1000.0 / perSecond;
        var begin = clock.Elapsed.TotalMilliseconds;
        var running = new List<Task<Attempt>>(count);
        for (var i = 0; i < count; i++)
        {
            // The schedule, not a guess: connection i starts at begin + i × period (late ones start at once).
            var wait = begin + (i * period) - clock.Elapsed.TotalMilliseconds;
            if (wait >= 1)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(wait));
            }
            running.Add(OneAsync(port, eachTimeout, clock));
        }
        return await Task.WhenAll(running);
    }

    private static async Task<Attempt> OneAsync(int port, TimeSpan timeout, Stopwatch clock)
    {
        var started = clock.Elapsed.TotalMilliseconds;
        var payload = new byte[64];
        Random.Shared.NextBytes(payload);
        var back = new byte[64];
        using var cancel = new CancellationTokenSource(timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var ok = false;
        try
        {
            await socket.ConnectAsync(Ports.Loopback(port), cancel.Token);
            await socket.SendAsync(payload, cancel.Token);
            var read = 0;
            while (read < back.Length)
            {
                var n = await socket.ReceiveAsync(back.AsMemory(read), cancel.Token);
                if (n == 0)
                {
                    break;
                }
                read += n;
            }
            ok = read == back.Length && back.AsSpan().SequenceEqual(payload);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // Refused, reset or timed out: a failed connection, which is what the figure counts.
        }
        return new Attempt(started, clock.Elapsed.TotalMilliseconds, ok);
    }

    /// <summary>The longest stretch, in ms, between two successful connections' ends, counted from the first start to the last end.</summary>
    public static double LongestGap(IReadOnlyList<Attempt> attempts)
    {
        if (attempts.Count == 0)
        {
            return double.NaN;
        }
        var marks = attempts.Where(a => a.Ok).Select(a => a.EndedMs)
            .Append(attempts.Min(a => a.StartedMs)).Append(attempts.Max(a => a.EndedMs)).Order().ToArray();
        var longest = 0.0;
        for (var i = 1; i < marks.Length; i++)
        {
            longest = Math.Max(longest, marks[i] - marks[i - 1]);
        }
        return longest;
    }
}
