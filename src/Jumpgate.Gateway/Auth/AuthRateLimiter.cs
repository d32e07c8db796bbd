using System.Collections.Concurrent;
using Jumpgate.Gateway.Configuration;

namespace Jumpgate.Gateway.Auth;

/// <summary>
/// A token bucket per source address for failed authentications: each failure takes a token;
/// one comes back every <see cref="Interval"/>, up to <see cref="Capacity"/>. An address whose
/// bucket is empty is limited: its attempts are refused before the store is read. So a guessing
/// loop gets <see cref="Capacity"/> guesses at once and then one every Interval (by default 10,
/// then one every 6 s), whatever it sends, while other addresses are not touched. Successes cost
/// nothing. Both numbers come from gateway.yaml's <c>access:</c> section.
/// </summary>
internal sealed class AuthRateLimiter(TimeProvider time, AccessOptions access)
{
    /// <summary>How many failures an address may make at once (<c>access.auth_failure_burst</c>).</summary>
    public int Capacity { get; } = access.AuthFailureBurst;

    /// <summary>How often a limited address gets one more attempt (<c>access.auth_failure_interval</c>).</summary>
    public TimeSpan Interval { get; } = access.AuthFailureInterval;

    /// <summary>How long an empty bucket takes to fill again.</summary>
    public TimeSpan Window => Interval * Capacity;

    /// <summary>Addresses remembered at most; beyond it, full buckets (addresses that stopped failing) are forgotten.</summary>
    private const int MaxAddresses = 100_000;

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    /// <summary>
    /// Reserves one attempt for the address before the store is read: false (and how long until
    /// the next attempt may be made) if its bucket is empty. Reserving first makes parallel
    /// attempts from one address unable to slip past the limit together; a success gives the
    /// reservation back (<see cref="Succeeded"/>), a failure keeps it (<see cref="Failed"/>).
    /// </summary>
    public bool TryBegin(string address, out TimeSpan retryAfter)
    {
        if (_buckets.Count >= MaxAddresses)
        {
            Forget();
        }
        var bucket = _buckets.GetOrAdd(address, _ => new Bucket { Tokens = Capacity, Updated = time.GetTimestamp() });
        lock (bucket)
        {
            Refill(bucket);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }
            retryAfter = RetryAfter(bucket);
            return false;
        }
    }

    public void Succeeded(string address)
    {
        if (_buckets.TryGetValue(address, out var bucket))
        {
            lock (bucket)
            {
                bucket.Tokens = Math.Min(Capacity, bucket.Tokens + 1);
            }
        }
    }

    /// <summary>Keeps the reservation of a failed attempt; true when this failure engages the limit (the bucket was full of patience until now).</summary>
    public bool Failed(string address)
    {
        if (!_buckets.TryGetValue(address, out var bucket))
        {
            return false;
        }
        lock (bucket)
        {
            if (bucket.Tokens >= 1 || bucket.Engaged)
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
        if (!_buckets.TryGetValue(address, out var bucket))
        {
            return false;
        }
        lock (bucket)
        {
            Refill(bucket);
            if (bucket.Tokens >= 1)
            {
                return false;
            }
            retryAfter = RetryAfter(bucket);
            return true;
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

    /// <summary>Drops addresses whose bucket has refilled: they remember nothing worth keeping.</summary>
    private void Forget()
    {
        foreach (var (address, bucket) in _buckets)
        {
            lock (bucket)
            {
                Refill(bucket);
                if (bucket.Tokens >= Capacity)
                {
                    _buckets.TryRemove(address, out _);
                }
            }
        }
    }

    private sealed class Bucket
    {
        public double Tokens;
        public long Updated;
        public bool Engaged;
    }
}
