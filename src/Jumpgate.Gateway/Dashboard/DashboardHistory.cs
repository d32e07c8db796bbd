using Jumpgate.Gateway.Tunnel;
using Microsoft.Extensions.Hosting;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>
/// The dashboard's sparklines: every <see cref="Interval"/> the open streams and the bytes moved
/// since the last sample, for the last hour, in a ring of <see cref="Points"/> samples (a few KiB,
/// gone with a restart). Read from the live stream table, not from metrics: it is what this
/// gateway carries, sampled whether or not anyone is looking.
/// </summary>
internal sealed class DashboardHistory(LiveStreams streams, TimeProvider time) : IHostedService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>One hour of samples.</summary>
    public const int Points = 360;

    private readonly Lock _gate = new();
    private readonly int[] _streams = new int[Points];
    private readonly long[] _bytes = new long[Points];
    private int _count;
    private int _next;
    private long _lastTotal;
    private DateTimeOffset? _last;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    /// <summary>Moves with every sample, so a watcher sends the history again only when it changed.</summary>
    public long Version => Interlocked.Read(ref _version);

    private long _version;

    public void Sample()
    {
        var open = streams.All.Count(s => s.Value.Start is not null);
        var (up, down) = streams.TotalBytes();
        lock (_gate)
        {
            var total = up + down;
            _streams[_next] = open;
            _bytes[_next] = Math.Max(0, total - _lastTotal);
            _lastTotal = total;
            _next = (_next + 1) % Points;
            _count = Math.Min(_count + 1, Points);
            _last = time.GetUtcNow();
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>The samples, oldest first.</summary>
    public DashboardHistoryView View()
    {
        lock (_gate)
        {
            var first = (_next - _count + Points) % Points;
            var open = new int[_count];
            var bytes = new long[_count];
            for (var i = 0; i < _count; i++)
            {
                open[i] = _streams[(first + i) % Points];
                bytes[i] = _bytes[(first + i) % Points];
            }
            return new DashboardHistoryView((int)Interval.TotalSeconds, _last, open, bytes);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _loop;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // The first sample at start: a fresh page shows one point rather than an empty line for ten seconds.
        Sample();
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Sample();
            }
        }
        catch (OperationCanceledException)
        {
            // The gateway is stopping.
        }
    }
}
