using System.Net;
using System.Net.Sockets;
using Jumpgate.Gateway.Configuration;

namespace Jumpgate.Gateway.Auth;

/// <summary>Attempts a limited source made that were refused without being tried, since <see cref="Since"/>.</summary>
internal sealed record ThrottledTally(string Source, long Refused, DateTimeOffset Since);

/// <summary>
/// A token bucket per source for failed authentications: each failure takes a token; one comes
/// back every <see cref="Interval"/>, up to <see cref="Capacity"/>. A source whose bucket is empty
/// is limited: its attempts are refused before the store is read. So a guessing loop gets
/// <see cref="Capacity"/> guesses at once and then one every Interval (by default 10, then one
/// every 6 s), whatever it sends, while other sources are not touched. Successes cost nothing.
/// Both numbers come from gateway.yaml's <c>access:</c> section.
/// <para>
/// A source is an IPv4 address or an IPv6 /64 (<see cref="SourceOf"/>): one subscriber's
/// network, so a /64 cannot buy 2^64 fresh buckets. Every call does a bounded amount of work,
/// however many sources are tracked (<see cref="SweepPerCheck"/>).
/// </para>
/// </summary>
internal sealed class AuthRateLimiter(TimeProvider time, AccessOptions access)
{
    /// <summary>Sources remembered before refilled buckets start to be forgotten: about 20 MB at most.</summary>
    public const int DefaultMaxAddresses = 100_000;

    /// <summary>How many tracked sources a new source examines for forgetting when the map is full.</summary>
    public const int SweepPerCheck = 4;

    /// <summary>How many failures a source may make at once (<c>access.auth_failure_burst</c>).</summary>
    public int Capacity { get; } = access.AuthFailureBurst;

    /// <summary>How often a limited source gets one more attempt (<c>access.auth_failure_interval</c>).</summary>
    public TimeSpan Interval { get; } = access.AuthFailureInterval;

    /// <summary>How long an empty bucket takes to fill again.</summary>
    public TimeSpan Window => Interval * Capacity;

    /// <summary>
    /// Sources remembered before the sweep starts forgetting refilled ones. Twice this many is a
    /// hard cap: beyond it the longest-unexamined source is forgotten even if it is still limited
    /// (only reachable when that many sources all failed within one <see cref="Window"/>).
    /// </summary>
    public int MaxAddresses { get; init; } = DefaultMaxAddresses;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    /// <summary>Every tracked source once, the least recently examined by the sweep first.</summary>
    private readonly Queue<string> _sweepOrder = new();

    /// <summary>Sources with refusals not yet taken by <see cref="TakeRefusals"/>.</summary>
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);

    private ThrottledTally? _forgotten;

    /// <summary>How many tracked sources the sweep has examined in all: the work the map costs, for tests.</summary>
    internal long Examined { get; private set; }

    internal int Tracked
    {
        get
        {
            lock (_gate)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>
    /// The bucket an address falls into: an IPv4 address (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address), an IPv6 address's /64 as <c>2001:db8:1:2::/64</c>, or the text itself
    /// when it is not an address (so a source passed back in keeps its bucket).
    /// </summary>
    public static string SourceOf(string address)
    {
        if (!IPAddress.TryParse(address, out var ip))
        {
            return address;
        }
        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return ip.ToString();
        }
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>
    /// Reserves one attempt for the address before the store is read: false (and how long until
    /// the next attempt may be made) if its bucket is empty. Reserving first makes parallel
    /// attempts from one source unable to slip past the limit together; a success gives the
    /// reservation back (<see cref="Succeeded"/>), a failure keeps it (<see cref="Failed"/>). A
    /// refusal is counted for <see cref="TakeRefusals"/>.
    /// </summary>
    public bool TryBegin(string address, out TimeSpan retryAfter)
    {
        var source = SourceOf(address);
        lock (_gate)
        {
            if (!_buckets.TryGetValue(source, out var bucket))
            {
                if (_buckets.Count >= MaxAddresses)
                {
                    Sweep();
                }
                _buckets[source] = bucket = new Bucket { Tokens = Capacity, Updated = time.GetTimestamp() };
                _sweepOrder.Enqueue(source);
            }
            Refill(bucket);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }
            if (bucket.Refused++ == 0)
            {
                bucket.RefusedSince = time.GetUtcNow();
                _pending.Add(source);
            }
            retryAfter = RetryAfter(bucket);
            return false;
        }
    }

    public void Succeeded(string address)
    {
        lock (_gate)
        {
            if (_buckets.TryGetValue(SourceOf(address), out var bucket))
            {
                bucket.Tokens = Math.Min(Capacity, bucket.Tokens + 1);
            }
        }
    }

    /// <summary>Keeps the reservation of a failed attempt; true when this failure engages the limit (the bucket was full of patience until now).</summary>
    public bool Failed(string address)
    {
        lock (_gate)
        {
            if (!_buckets.TryGetValue(SourceOf(address), out var bucket) || bucket.Tokens >= 1 || bucket.Engaged)
            {
                return false;
            }
            bucket.Engaged = true;
            return true;
        }
    }

    /// <summary>Whether the address's next attempt would be refused, and when it may try again; reserves nothing.</summary>
    public bool IsLimited(string address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        lock (_gate)
        {
            if (!_buckets.TryGetValue(SourceOf(address), out var bucket))
            {
                return false;
            }
            Refill(bucket);
            if (bucket.Tokens >= 1)
            {
                return false;
            }
            retryAfter = RetryAfter(bucket);
            return true;
        }
    }

    /// <summary>
    /// The refusals counted since the last call, one tally per source that had any, and forgets
    /// them: work in proportion to the sources refused since then, not to every source tracked.
    /// </summary>
    public IReadOnlyList<ThrottledTally> TakeRefusals()
    {
        lock (_gate)
        {
            var tallies = new List<ThrottledTally>(_pending.Count + 1);
            foreach (var source in _pending)
            {
                var bucket = _buckets[source];
                tallies.Add(new ThrottledTally(source, bucket.Refused, bucket.RefusedSince));
                bucket.Refused = 0;
            }
            _pending.Clear();
            if (_forgotten is { } forgotten)
            {
                tallies.Add(forgotten);
                _forgotten = null;
            }
            return tallies;
        }
    }

    private TimeSpan RetryAfter(Bucket bucket) => TimeSpan.FromTicks((long)((1 - bucket.Tokens) * Interval.Ticks));

    private void Refill(Bucket bucket)
    {
        var now = time.GetTimestamp();
        var elapsed = time.GetElapsedTime(bucket.Updated, now);
        bucket.Tokens = Math.Min(Capacity, bucket.Tokens + elapsed / Interval);
        bucket.Updated = now;
        if (bucket.Tokens >= Capacity)
        {
            // Fully patient again: the next time it empties is a new episode worth reporting.
            bucket.Engaged = false;
        }
    }

    /// <summary>
    /// Examines the <see cref="SweepPerCheck"/> least recently examined sources: forgets those
    /// whose bucket has refilled (they remember nothing worth keeping) and sends the rest to the
    /// back. A bounded step per new source instead of a scan of the whole map: each new source
    /// pays for forgetting up to four old ones, so a map of refilled buckets drains as fast as it
    /// fills.
    /// </summary>
    private void Sweep()
    {
        for (var i = 0; i < SweepPerCheck && _sweepOrder.TryDequeue(out var source); i++)
        {
            Examined++;
            var bucket = _buckets[source];
            Refill(bucket);
            if (bucket.Tokens >= Capacity && bucket.Refused == 0)
            {
                _buckets.Remove(source);
            }
            else
            {
                _sweepOrder.Enqueue(source);
            }
        }
        if (_buckets.Count >= 2 * MaxAddresses && _sweepOrder.TryDequeue(out var oldest))
        {
            Examined++;
            var bucket = _buckets[oldest];
            _buckets.Remove(oldest);
            if (bucket.Refused > 0)
            {
                // Its count is not lost with it: it joins one tally for every source forgotten this way.
                _pending.Remove(oldest);
                _forgotten = _forgotten is { } f
                    ? f with { Refused = f.Refused + bucket.Refused }
                    : new ThrottledTally("sources forgotten while limited", bucket.Refused, bucket.RefusedSince);
            }
        }
    }

    private sealed class Bucket
    {
        public double Tokens;
        public long Updated;
        public bool Engaged;
        public long Refused;
        public DateTimeOffset RefusedSince;
    }
}
