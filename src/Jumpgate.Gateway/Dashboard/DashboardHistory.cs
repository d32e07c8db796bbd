using Jumpgate.Gateway.Tunnel;
using Microsoft.Extensions.Hosting;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>
/// The dashboard's sparklines: every <see cref="Interval"/> the open streams and the bytes moved
/// since the last sample, for the last hour, in rings of <see cref="Points"/> samples: one for the
/// whole gateway (an admin's), and one per user with streams in the last hour (a user sees only
/// their own: the gateway's totals would tell them how busy everyone else is). A ring is 4 KiB; a
/// user's goes once it has been all zeros for an hour. Read from the live stream table, not from
/// metrics, sampled whether or not anyone is looking, gone with a restart.
/// </summary>
internal sealed class DashboardHistory(LiveStreams streams, TimeProvider time) : IHostedService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>One hour of samples.</summary>
    public const int Points = 360;

    private readonly Lock _gate = new();
    private readonly Ring _gateway = new();
    private readonly Dictionary<string, Ring> _users = new(StringComparer.Ordinal);
    private Dictionary<string, long> _previous = new(StringComparer.Ordinal);
    private long _previousTotal;
    private DateTimeOffset? _last;
    private long _version;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    /// <summary>Moves with every sample, so a watcher sends the history again only when it changed.</summary>
    public long Version => Interlocked.Read(ref _version);

    public void Sample()
    {
        var open = streams.Open.GroupBy(s => s.Value.User.Name).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var (up, down) = streams.TotalBytes();
        var byUser = streams.TotalBytesByUser();
        lock (_gate)
        {
            _gateway.Add(open.Values.Sum(), Math.Max(0, up + down - _previousTotal));
            _previousTotal = up + down;
            foreach (var (user, total) in byUser)
            {
                var moved = Math.Max(0, total - _previous.GetValueOrDefault(user));
                var streamsNow = open.GetValueOrDefault(user);
                if (_users.TryGetValue(user, out var ring))
                {
                    ring.Add(streamsNow, moved);
                }
                else if (streamsNow > 0 || moved > 0)
                {
                    (_users[user] = new Ring()).Add(streamsNow, moved);
                }
            }
            foreach (var idle in _users.Where(u => u.Value.IsIdle).Select(u => u.Key).ToList())
            {
                _users.Remove(idle);
            }
            _previous = byUser;
            _last = time.GetUtcNow();
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>The samples, oldest first: the gateway's for <paramref name="user"/> null, else that user's own.</summary>
    public DashboardHistoryView View(string? user)
    {
        lock (_gate)
        {
            var ring = user is null ? _gateway : _users.GetValueOrDefault(user);
            var count = _gateway.Count;
            var (open, bytes) = ring is null ? (new int[count], new long[count]) : ring.Read(count);
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

    /// <summary>One hour of samples; the caller holds the lock.</summary>
    private sealed class Ring
    {
        private readonly int[] _streams = new int[Points];
        private readonly long[] _bytes = new long[Points];
        private int _next;
        private int _sinceActive;

        public int Count { get; private set; }

        /// <summary>A whole window of zeros: nothing to draw that an absent ring would not.</summary>
        public bool IsIdle => _sinceActive >= Points;

        public void Add(int streams, long bytes)
        {
            _streams[_next] = streams;
            _bytes[_next] = bytes;
            _next = (_next + 1) % Points;
            Count = Math.Min(Count + 1, Points);
            _sinceActive = streams > 0 || bytes > 0 ? 0 : _sinceActive + 1;
        }

        /// <summary>The last <paramref name="count"/> samples, oldest first; a ring younger than that is padded with zeros in front.</summary>
        public (int[] Streams, long[] Bytes) Read(int count)
        {
            var streams = new int[count];
            var bytes = new long[count];
            var have = Math.Min(Count, count);
            for (var i = 0; i < have; i++)
            {
                var at = (_next - have + i + Points) % Points;
                streams[count - have + i] = _streams[at];
                bytes[count - have + i] = _bytes[at];
            }
            return (streams, bytes);
        }
    }
}
