using Jumpgate.Gateway.Auth;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>The per-address token bucket on a virtual clock.</summary>
public sealed class AuthRateLimiterTests
{
    private readonly ManualTime _time = new();
    private readonly AuthRateLimiter _limiter;

    public AuthRateLimiterTests() => _limiter = new AuthRateLimiter(_time, new Gateway.Configuration.AccessOptions());

    private bool Fail(string address)
    {
        if (!_limiter.TryBegin(address, out _))
        {
            return false;
        }
        _limiter.Failed(address);
        return true;
    }

    [Fact]
    public void TenFailuresAreAllowedAndTheEleventhAttemptIsRefused()
    {
        for (var i = 0; i < _limiter.Capacity; i++)
        {
            Assert.True(Fail("192.0.2.1"), $"attempt {i + 1} was refused");
        }

        Assert.False(_limiter.TryBegin("192.0.2.1", out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(6), retryAfter);
        Assert.True(_limiter.IsLimited("192.0.2.1", out _));
    }

    [Fact]
    public void ALimitedAddressGetsOneAttemptEverySixSeconds()
    {
        for (var i = 0; i < _limiter.Capacity; i++)
        {
            Fail("192.0.2.1");
        }
        var allowed = 0;
        // A minute of one attempt every 100 ms: 600 attempts.
        for (var i = 0; i < 600; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            allowed += Fail("192.0.2.1") ? 1 : 0;
        }

        Assert.Equal(10, allowed);
    }

    [Fact]
    public void OneAddressBeingLimitedDoesNotTouchAnother()
    {
        for (var i = 0; i < 50; i++)
        {
            Fail("192.0.2.1");
        }

        Assert.False(_limiter.IsLimited("192.0.2.2", out _));
        Assert.True(_limiter.TryBegin("192.0.2.2", out _));
    }

    [Fact]
    public void SuccessesCostNothing()
    {
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(_limiter.TryBegin("192.0.2.1", out _));
            _limiter.Succeeded("192.0.2.1");
        }

        Assert.False(_limiter.IsLimited("192.0.2.1", out _));
    }

    [Fact]
    public void TheLimitEngagesOncePerEpisode()
    {
        var engaged = 0;
        // A burst that empties the bucket, then a slow trickle that keeps it nearly empty.
        for (var i = 0; i < 40; i++)
        {
            if (_limiter.TryBegin("192.0.2.1", out _) && _limiter.Failed("192.0.2.1"))
            {
                engaged++;
            }
            _time.Advance(i < _limiter.Capacity ? TimeSpan.Zero : TimeSpan.FromSeconds(5));
        }
        Assert.Equal(1, engaged);

        _time.Advance(_limiter.Window);
        for (var i = 0; i < _limiter.Capacity; i++)
        {
            Assert.True(_limiter.TryBegin("192.0.2.1", out _));
            engaged += _limiter.Failed("192.0.2.1") ? 1 : 0;
        }
        Assert.Equal(2, engaged);
    }

    [Fact]
    public void TheBurstAndIntervalComeFromTheConfiguration()
    {
        var limiter = new AuthRateLimiter(_time, new Gateway.Configuration.AccessOptions { AuthFailureBurst = 3, AuthFailureInterval = TimeSpan.FromSeconds(30) });
        for (var i = 0; i < 3; i++)
        {
            Assert.True(limiter.TryBegin("192.0.2.9", out _));
            limiter.Failed("192.0.2.9");
        }
        Assert.False(limiter.TryBegin("192.0.2.9", out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);

        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(limiter.TryBegin("192.0.2.9", out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryBegin("192.0.2.9", out _));
        Assert.Equal(TimeSpan.FromSeconds(90), limiter.Window);
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:9", "2001:db8:1:3::1")]
    [InlineData("192.0.2.1", "::ffff:192.0.2.1", "192.0.2.2")]
    public void AddressesInOneIpv6Slash64OrOneIpv4AddressShareABucket(string first, string sameSource, string otherSource)
    {
        for (var i = 0; i < _limiter.Capacity; i++)
        {
            Assert.True(Fail(first));
        }

        Assert.True(_limiter.IsLimited(sameSource, out _));
        Assert.False(_limiter.TryBegin(sameSource, out _));
        Assert.False(_limiter.IsLimited(otherSource, out _));
        Assert.Equal(AuthRateLimiter.SourceOf(first), AuthRateLimiter.SourceOf(sameSource));
    }

    [Fact]
    public void NamesIpv6SourcesByTheirSlash64()
    {
        Assert.Equal("2001:db8:1:2::/64", AuthRateLimiter.SourceOf("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
        Assert.Equal("192.0.2.1", AuthRateLimiter.SourceOf("::ffff:192.0.2.1"));
        Assert.Equal("2001:db8:1:2::/64", AuthRateLimiter.SourceOf("2001:db8:1:2::/64"));
    }

    [Fact]
    public void AFullMapForgetsRefilledBucketsAFewPerCheckWhileALimitedOneStaysLimited()
    {
        var limiter = new AuthRateLimiter(_time, new Gateway.Configuration.AccessOptions()) { MaxAddresses = 1000 };
        // 999 sources fail once and stop; by the time the map is full their buckets have refilled.
        for (var i = 0; i < 999; i++)
        {
            Assert.True(limiter.TryBegin($"10.0.{i / 256}.{i % 256}", out _));
            limiter.Failed($"10.0.{i / 256}.{i % 256}");
        }
        _time.Advance(limiter.Interval);
        for (var i = 0; i < limiter.Capacity; i++)
        {
            Assert.True(limiter.TryBegin("192.0.2.1", out _));
            limiter.Failed("192.0.2.1");
        }
        Assert.Equal(1000, limiter.Tracked);

        // Two thousand new sources sign in: each examines at most four tracked ones, never the whole map.
        for (var i = 0; i < 2000; i++)
        {
            var before = limiter.Examined;
            Assert.True(limiter.TryBegin($"198.18.{i / 256}.{i % 256}", out _));
            limiter.Succeeded($"198.18.{i / 256}.{i % 256}");
            Assert.InRange(limiter.Examined - before, 0, AuthRateLimiter.SweepPerCheck);
        }

        Assert.InRange(limiter.Tracked, 1, 1000);
        Assert.False(limiter.TryBegin("192.0.2.1", out _), "the limited source was forgotten and got a fresh bucket");
        Assert.True(limiter.IsLimited("192.0.2.1", out _));
    }

    [Fact]
    public void AMapOfLimitedSourcesStopsGrowingAtTwiceTheMaximum()
    {
        var limiter = new AuthRateLimiter(_time, new Gateway.Configuration.AccessOptions { AuthFailureBurst = 1 }) { MaxAddresses = 100 };
        for (var i = 0; i < 1000; i++)
        {
            var before = limiter.Examined;
            Assert.True(limiter.TryBegin($"10.1.{i / 256}.{i % 256}", out _));
            limiter.Failed($"10.1.{i / 256}.{i % 256}");
            Assert.InRange(limiter.Examined - before, 0, AuthRateLimiter.SweepPerCheck + 1);
        }

        Assert.Equal(200, limiter.Tracked);
    }

    [Fact]
    public void CountsTheAttemptsRefusedWhileLimitedOncePerTake()
    {
        for (var i = 0; i < _limiter.Capacity; i++)
        {
            Fail("2001:db8::1");
        }
        var since = _time.GetUtcNow();
        for (var i = 0; i < 500; i++)
        {
            Assert.False(_limiter.TryBegin($"2001:db8::{i:x}", out _));
            _time.Advance(TimeSpan.FromMilliseconds(1));
        }

        var tally = Assert.Single(_limiter.TakeRefusals());
        Assert.Equal(new ThrottledTally("2001:db8::/64", 500, since), tally);
        Assert.Empty(_limiter.TakeRefusals());
    }
}
