using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// A stranger's flood of bad sign-ins cannot push real events out of the rotated audit: attempts
/// refused while the source is limited are counted, not written one by one (issue 22, item 8).
/// </summary>
public sealed partial class ThrottledAuditTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Attempts = 2000;
    private const int Parallel = 200;

    private Deployment _deployment = null!;

    public async Task InitializeAsync() => _deployment = await Deployment.StartAsync(output);

    public async Task DisposeAsync() => await _deployment.DisposeAsync();

    [Fact]
    public async Task TwoThousandBadSignInsFromOneAddressWriteABoundedAuditWithTheirCount()
    {
        var auditFile = Path.Combine(_deployment.GatewayDir, "audit.jsonl");
        var before = File.Exists(auditFile) ? File.ReadAllLines(auditFile).Length : 0;
        var browsers = Enumerable.Range(0, 4).Select(_ => new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint)).ToList();
        var statuses = new int[600];
        var clock = Stopwatch.StartNew();
        using (var deadline = new CancellationTokenSource(Signals.Timeout(60)))
        {
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, Parallel).Select(async worker =>
            {
                var browser = browsers[worker % browsers.Count];
                while (Interlocked.Increment(ref next) < Attempts)
                {
                    using var form = new FormUrlEncodedContent([new("token", "jgu_000000000000_" + new string('x', 43)), new("to", "")]);
                    using var response = await browser.Client.PostAsync(browser.GatewayUri("/signin"), form, deadline.Token);
                    Interlocked.Increment(ref statuses[(int)response.StatusCode]);
                }
            }));
        }
        var seconds = clock.Elapsed.TotalSeconds;
        browsers.ForEach(b => b.Dispose());
        // A graceful stop writes the last summary and drains the audit queue.
        _deployment.Gateway!.Signal(ChildProcess.SIGINT);
        await _deployment.Gateway.Exited.WaitAsync(Signals.Timeout(30));

        var written = File.ReadAllLines(auditFile).Skip(before).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var tried = written.Count(e => Is(e, "auth", "failed"));
        var summaries = written.Where(e => Is(e, "auth", "throttled_summary")).ToList();
        var refused = summaries.Sum(e => long.Parse(SummaryCount().Match(e.GetProperty("reason").GetString()!).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        output.WriteLine($"{Attempts} bad sign-ins from 127.0.0.1 in {seconds:0.0} s ({statuses[401]} x 401, {statuses[429]} x 429): " +
            $"{written.Count} audit lines; {tried} tried and audited, {refused} refused while limited in {summaries.Count} summaries");
        foreach (var summary in summaries)
        {
            output.WriteLine(summary.GetRawText());
        }

        Assert.Equal(Attempts, statuses[401] + statuses[429]);
        Assert.True(seconds < 60, $"the attack took {seconds:0.0} s");
        Assert.Equal(Attempts, tried + refused);
        Assert.True(written.Count < 100, $"{Attempts} bad sign-ins wrote {written.Count} audit lines");
        Assert.All(summaries, s => Assert.Equal("127.0.0.1", s.GetProperty("source").GetString()));
    }

    private static bool Is(JsonElement e, string kind, string outcome) =>
        e.GetProperty("event").GetString() == kind && e.GetProperty("outcome").GetString() == outcome;

    [GeneratedRegex(@"^(\d+) refused while limited since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")]
    private static partial Regex SummaryCount();
}
