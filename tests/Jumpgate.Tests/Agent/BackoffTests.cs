using Jumpgate.Agent.Tunnel;
using Xunit;

namespace Jumpgate.Tests.Agent;

public sealed class BackoffTests
{
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(1);

    /// <summary>A random source that always draws the same number, so the schedule can be read off exactly.</summary>
    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }

    [Fact]
    public void DelaysDoubleUntilTheCap()
    {
        // With the largest jitter factor the delays are the ceilings themselves.
        var backoff = new Backoff(Cap, new FixedRandom(0.999999));

        var delays = Enumerable.Range(0, 8).Select(_ => backoff.Next().TotalMilliseconds).ToArray();

        Assert.Equal([100, 200, 400, 800, 1000, 1000, 1000, 1000], delays.Select(d => Math.Round(d)));
    }

    [Fact]
    public void DelaysNeverShrinkAndNeverExceedTheCap()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(5), new FixedRandom(0.5));
        var previous = TimeSpan.Zero;

        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var delay = backoff.Next();
            Assert.True(delay >= previous, $"attempt {attempt}: {delay} after {previous}");
            Assert.True(delay <= TimeSpan.FromSeconds(5), $"attempt {attempt}: {delay} exceeds the cap");
            previous = delay;
        }
        Assert.Equal(TimeSpan.FromSeconds(5 * 0.75), previous);
    }

    [Fact]
    public void ResetStartsAgainFromTheSmallestDelay()
    {
        var backoff = new Backoff(Cap, new FixedRandom(0.999999));
        for (var attempt = 0; attempt < 20; attempt++)
        {
            backoff.Next();
        }

        backoff.Reset();

        Assert.True(backoff.Next() <= TimeSpan.FromMilliseconds(100));
        Assert.True(backoff.Next() <= TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void JitterStaysBetweenHalfAndAllOfTheCeiling()
    {
        var backoff = new Backoff(Cap, new Random(42));
        var factors = new List<double>();

        for (var attempt = 0; attempt < 10_000; attempt++)
        {
            var ceiling = Math.Min(Cap.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(attempt, 16)));
            var delay = backoff.Next().TotalMilliseconds;
            Assert.InRange(delay, (0.5 * ceiling) - 0.001, ceiling + 0.001);
            factors.Add(delay / ceiling);
        }

        // The jitter is spread across the range, not stuck at one end, so agents do not reconnect in lockstep.
        Assert.True(factors.Min() < 0.52, $"smallest factor {factors.Min()}");
        Assert.True(factors.Max() > 0.98, $"largest factor {factors.Max()}");
        Assert.InRange(factors.Average(), 0.7, 0.8);
    }

    [Fact]
    public void ACapBelowTheFirstStepIsStillHonoured()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(20), new FixedRandom(0.999999));

        Assert.All(Enumerable.Range(0, 5).Select(_ => backoff.Next()), d => Assert.True(d <= TimeSpan.FromMilliseconds(20)));
    }
}
