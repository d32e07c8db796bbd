using System.Diagnostics;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Access;

/// <summary>
/// Failed authentications are limited per source address. The guessers here come from
/// 127.0.0.2 and 127.0.0.3 (loopback too), so the user on 127.0.0.1 shows that other addresses
/// are not slowed.
/// </summary>
public sealed class RateLimitTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Limited = "too many failed authentications from";

    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private static string Forged(int i) => $"jgu_{i:x12}_" + new string('A', 43);

    [Fact]
    public async Task AnAddressThatKeepsFailingIsThrottledWhileAnotherAddressIsNot()
    {
        var answers = new List<(string? Error, TimeSpan Took)>();
        for (var i = 0; i < 13; i++)
        {
            var watch = Stopwatch.StartNew();
            await using var attempt = await _fixture.ConnectAsync("node1", "echo", Forged(i), source: "127.0.0.2");
            answers.Add((attempt.Error, watch.Elapsed));
        }
        var watchValid = Stopwatch.StartNew();
        await using var validFromLimited = await _fixture.ConnectAsync("node1", "echo", source: "127.0.0.2");
        var validTook = watchValid.Elapsed;
        var watchOther = Stopwatch.StartNew();
        await using var other = await _fixture.ConnectAsync("node1", "echo", source: "127.0.0.1");
        var otherTook = watchOther.Elapsed;

        Assert.All(answers.Take(9), a => Assert.Equal("invalid or revoked token", a.Error));
        Assert.All(answers.Skip(10), a => Assert.StartsWith(Limited + " 127.0.0.2; try again in", a.Error));
        Assert.All(answers.Skip(10), a => Assert.True(a.Took >= TimeSpan.FromSeconds(0.9), $"a throttled refusal came after {a.Took.TotalSeconds:0.00} s"));
        Assert.StartsWith(Limited, validFromLimited.Error);
        Assert.True(other.Ok, other.Error);
        Assert.Equal("ok"u8.ToArray(), await EchoServer.RoundTripAsync(other.Stream, "ok"u8.ToArray(), Signals.Timeout(10)));
        output.WriteLine($"refusals before the limit: {string.Join(", ", answers.Take(10).Select(a => $"{a.Took.TotalMilliseconds:0} ms"))}");
        output.WriteLine($"throttled refusals: {string.Join(", ", answers.Skip(10).Select(a => $"{a.Took.TotalMilliseconds:0} ms"))}; valid token from the limited address refused after {validTook.TotalMilliseconds:0} ms");
        output.WriteLine($"meanwhile 127.0.0.1 connected in {otherTook.TotalMilliseconds:0} ms");

        Assert.True(await Signals.UntilAsync(async () =>
        {
            var audit = await _fixture.AdminAsync("audit", "--json");
            return audit.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .Any(e => e.GetProperty("outcome").GetString() == "throttled" && e.GetProperty("source").GetString() == "127.0.0.2");
        }, Signals.Timeout(15), TimeSpan.FromMilliseconds(200)), "no throttled audit event for 127.0.0.2");
        await _fixture.Deployment.Gateway!.WaitForLineAsync("rate-limiting authentications from 127.0.0.2: 10 failures within 60 s", Signals.Timeout(5));
    }

    [Fact]
    public async Task ARevokedTokenRetriedOverAndOverIsNoGuessAndDoesNotLimitItsAddress()
    {
        var revoked = (await _fixture.AdminAsync("token-add", "user", "researcher")).Stdout.Trim();
        _fixture.Deployment.Tokens.Add(revoked);
        await _fixture.AdminAsync("token-revoke", AccessFixture.TokenId(revoked));

        for (var i = 0; i < 3 * AuthRateLimiterCapacity; i++)
        {
            await using var attempt = await _fixture.ConnectAsync("node1", "echo", revoked, source: "127.0.0.4");
            Assert.Equal("invalid or revoked token", attempt.Error);
        }
        await using var valid = await _fixture.ConnectAsync("node1", "echo", source: "127.0.0.4");

        Assert.True(valid.Ok, valid.Error);
        Assert.DoesNotContain("rate-limiting authentications from 127.0.0.4", _fixture.Deployment.Gateway!.Output);
    }

    private const int AuthRateLimiterCapacity = 10;

    [Fact]
    public async Task AParallelGuessingLoopGetsTenGuessesAndThenAboutOneEverySixSeconds()
    {
        var duration = TimeSpan.FromSeconds(8);
        var watch = Stopwatch.StartNew();
        var answers = 0;
        var loops = Enumerable.Range(0, 8).Select(async loop =>
        {
            // Bounded by time and by count.
            for (var i = 0; i < 1000 && watch.Elapsed < duration; i++)
            {
                await using var attempt = await _fixture.ConnectAsync("node1", "echo", Forged(loop * 1000 + i), source: "127.0.0.3");
                Assert.NotNull(attempt.Error);
                Interlocked.Increment(ref answers);
            }
        });
        await Task.WhenAll(loops);
        var elapsed = watch.Elapsed;

        // Guesses that reached the store are the audit's failed authentications from that address
        // (the refusal of the guess that empties the bucket already says the address is limited).
        var checkedByStore = 0;
        Assert.True(await Signals.UntilAsync(async () =>
        {
            var audit = await _fixture.AdminAsync("audit", "--json");
            var count = audit.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .Count(e => e.GetProperty("outcome").GetString() == "failed" && e.GetProperty("source").GetString()!.StartsWith("127.0.0.3:", StringComparison.Ordinal));
            var settled = count == checkedByStore && count >= 10;
            checkedByStore = count;
            return settled;
        }, Signals.Timeout(15), TimeSpan.FromMilliseconds(300)), $"the audit never settled ({checkedByStore} failures)");
        var throttled = answers - checkedByStore;

        output.WriteLine($"8 parallel guessing loops for {elapsed.TotalSeconds:0.0} s from one address: {answers} answers ({answers / elapsed.TotalSeconds:0.0}/s), {checkedByStore} guesses reached the store ({checkedByStore / elapsed.TotalMinutes:0} guesses/min over this run), {throttled} were refused before it");
        // Ten at once, then one per 6 s: at most 10 + 8 s / 6 s, rounded up.
        Assert.InRange(checkedByStore, 10, 12);
        Assert.True(throttled > 0);
    }
}
