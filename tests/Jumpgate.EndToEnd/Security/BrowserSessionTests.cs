using System.Diagnostics;
using System.Globalization;
using System.Net;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// Browser sessions against a real gateway: node1 serves two HTTP services (`web` and `notes`, both
/// answered by one real upstream). A cookie opens only the host it was issued for, signing out
/// anywhere ends the whole sign-in, and cookies a stranger makes up cost the gateway no memory.
/// </summary>
public sealed class BrowserSessionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Web = "web--node1";
    private const string Notes = "notes--node1";

    private HttpUpstream _upstream = null!;
    private Deployment _deployment = null!;
    private GatewayBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _upstream = await HttpUpstream.StartAsync();
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $$"""
            node1:
              address: 127.0.0.1
              services:
                web: { port: {{_upstream.Port}}, http: true }
                notes: { port: {{_upstream.Port}}, http: true }
            """);
        _browser = NewBrowser();
    }

    public async Task DisposeAsync()
    {
        _browser.Dispose();
        await _deployment.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task ACookieFromOneServiceOpensNeitherAnotherServiceNorTheGatewaysPages()
    {
        await SignInWithTheFormAsync(_browser, Web, "/headers?signed-in-on-web");
        var leaked = SessionCookie(_browser, _browser.ServiceUri(Web));

        // What a service that leaks its cookie (it sees its own traffic) gives whoever reads it.
        using var thief = NewBrowser();
        Plant(thief, _browser.ServiceUri(Notes), leaked);
        Plant(thief, _browser.GatewayUri(), leaked);
        using var onNotes = await thief.Client.GetAsync(_browser.ServiceUri(Notes, "/headers?replayed-on-notes"));
        using var onGateway = await thief.Client.GetAsync(_browser.GatewayUri("/"));
        using var onWeb = await _browser.Client.GetAsync(_browser.ServiceUri(Web, "/headers?still-on-web"));

        output.WriteLine($"web's cookie on notes: {(int)onNotes.StatusCode}; on the gateway: {(int)onGateway.StatusCode} -> {onGateway.Headers.Location}; on web: {(int)onWeb.StatusCode}");
        Assert.Equal(HttpStatusCode.OK, onWeb.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, onNotes.StatusCode);
        Assert.False(_upstream.SawRequest("replayed-on-notes"), "another service's cookie reached notes");
        Assert.Equal(HttpStatusCode.Redirect, onGateway.StatusCode);
        Assert.Equal("/signin", onGateway.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task ASignInSendsItsCodeToTheGatewaysOwnPortWhateverPortToNames()
    {
        await SignInWithTheFormAsync(_browser, Web, "/headers?first");

        // Another listener on the same name (port 9999) must never receive a code for this user.
        var to = $"https://{Web}.localhost:9999/headers?elsewhere";
        using var redirect = await _browser.Client.GetAsync(_browser.GatewayUri("/signin?to=" + Uri.EscapeDataString(to)));

        var location = redirect.Headers.Location!;
        output.WriteLine($"to={to} -> {location}");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal($"{Web}.localhost", location.Host);
        Assert.Equal(_browser.Port, location.Port);
        Assert.Equal("/_jumpgate/signin", location.AbsolutePath);
    }

    [Fact]
    public async Task SigningOutOnOneServiceEndsTheGatewayAndEveryServiceSessionOfThatSignIn()
    {
        var (web, notes, gateway) = await SignInEverywhereAsync(_browser);
        // A sign-in of its own (`jumpgate open` in another browser) is not this one.
        using var colleague = NewBrowser();
        var (linked, _) = await colleague.FollowAsync(await _deployment.OpenLinkAsync("node1", "notes", "/headers?colleague"));
        linked.Dispose();

        // Another site (here: the neighbouring service) cannot sign the browser out.
        using var forged = await PostSignOutAsync(_browser, Web, origin: $"https://{Notes}.localhost:{_browser.Port}");
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        await AssertLiveAsync(_browser, Notes, "/headers?after-forged-signout");

        using var confirm = await _browser.Client.GetAsync(_browser.ServiceUri(Web, "/_jumpgate/signout"));
        var page = await confirm.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, confirm.StatusCode);
        Assert.Contains("action=\"/_jumpgate/signout\"", page, StringComparison.Ordinal);

        using var signedOut = await PostSignOutAsync(_browser, Web, origin: $"https://{Web}.localhost:{_browser.Port}");
        Assert.Equal(HttpStatusCode.SeeOther, signedOut.StatusCode);
        Assert.Equal(_browser.GatewayUri("/signin"), signedOut.Headers.Location);

        // At once, not after the gateway's 2 s recheck: every cookie of that sign-in, replayed as it was.
        await AssertAllRefusedAsync(web, notes, gateway, "after-service-signout");
        await AssertLiveAsync(colleague, Notes, "/headers?colleague-still");
    }

    [Fact]
    public async Task SigningOutOnTheGatewayEndsEveryServiceSessionOfThatSignIn()
    {
        var (web, notes, gateway) = await SignInEverywhereAsync(_browser);

        using var post = new HttpRequestMessage(HttpMethod.Post, _browser.GatewayUri("/signout"));
        post.Headers.TryAddWithoutValidation("Origin", _browser.GatewayUri().GetLeftPart(UriPartial.Authority));
        using var signedOut = await _browser.Client.SendAsync(post);
        Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);

        await AssertAllRefusedAsync(web, notes, gateway, "after-gateway-signout");
    }

    [Fact]
    public async Task ThousandsOfMadeUpCookiesLeaveTheGatewaysMemoryAndOtherUsersAlone()
    {
        const int attempts = 5_000;
        const int largeCookieChars = 31 * 1024;
        var budget = Signals.Timeout(60);
        var gateway = _deployment.Gateway!.Id;
        await SignInWithTheFormAsync(_browser, Web, "/headers?warm-up");
        var before = ProcessMemory.ResidentKiB(gateway);
        var peak = before;

        using var attacker = NewBrowser();
        var sent = 0;
        var refused = 0;
        var clock = Stopwatch.StartNew();
        var attack = Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            int n;
            while (clock.Elapsed < budget && (n = Interlocked.Increment(ref sent)) <= attempts)
            {
                // Half the cookies are large junk, half are shaped like real ones (each costs a store lookup, and no memory).
                var cookie = n % 2 == 0 ? RandomText(largeCookieChars) : $"{RandomHex(16)}.{RandomHex(64)}";
                var uri = n % 4 < 2 ? _browser.GatewayUri("/") : _browser.ServiceUri(Web, "/headers?attack");
                using var request = new HttpRequestMessage(HttpMethod.Get, uri) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
                request.Headers.TryAddWithoutValidation("Cookie", $"__Host-jumpgate={cookie}");
                using var response = await attacker.Client.SendAsync(request);
                if (response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Unauthorized)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })));

        // Meanwhile another user signs in and uses the service.
        using var other = NewBrowser();
        var signInClock = Stopwatch.StartNew();
        await SignInWithTheFormAsync(other, Notes, "/headers?other-user");
        var signInLatency = signInClock.Elapsed;
        var latencies = new List<TimeSpan>();
        while (!attack.IsCompleted && latencies.Count < 2_000)
        {
            var requestClock = Stopwatch.StartNew();
            using var response = await other.Client.GetAsync(_browser.ServiceUri(Notes, "/headers?other-user-request"));
            latencies.Add(requestClock.Elapsed);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            peak = Math.Max(peak, ProcessMemory.ResidentKiB(gateway));
        }
        await attack;
        var attackSeconds = clock.Elapsed.TotalSeconds;
        // The kernel's high-water mark catches a peak between two samples.
        peak = Math.Max(peak, ProcessMemory.PeakKiB(gateway));

        var settle = Stopwatch.StartNew();
        var settled = await Signals.UntilAsync(() => Task.FromResult(ProcessMemory.ResidentKiB(gateway) - before < 64 * 1024), Signals.Timeout(20), TimeSpan.FromMilliseconds(250));
        var settledSeconds = settle.Elapsed.TotalSeconds;
        // The figure the issue asks for: where memory stands 20 s after the attack (a measuring window, not a wait for a signal).
        await Signals.UntilAsync(() => Task.FromResult(settle.Elapsed >= TimeSpan.FromSeconds(20)), TimeSpan.FromSeconds(21), TimeSpan.FromMilliseconds(500));
        var after = ProcessMemory.ResidentKiB(gateway);
        latencies.Sort();
        var completed = Math.Min(sent, attempts);
        output.WriteLine($"{completed} made-up cookies in {attackSeconds:0.0} s ({refused} refused); gateway resident {before / 1024} MiB before, "
            + $"peak {peak / 1024} MiB, {after / 1024} MiB {settle.Elapsed.TotalSeconds:0} s after ({(settled ? $"within 64 MiB of the start {settledSeconds:0.0} s after" : "never back within 64 MiB")})");
        output.WriteLine($"other user: sign-in {signInLatency.TotalMilliseconds:0} ms; {latencies.Count} requests meanwhile, "
            + $"median {Percentile(latencies, 0.5):0.0} ms, p99 {Percentile(latencies, 0.99):0.0} ms, max {latencies[^1].TotalMilliseconds:0.0} ms");

        Assert.Equal(attempts, completed);
        Assert.Equal(attempts, refused);
        Assert.NotEmpty(latencies);
        Assert.True(peak - before < 64 * 1024, $"the gateway's resident memory grew by {(peak - before) / 1024} MiB under made-up cookies");
        Assert.True(settled, "the gateway's resident memory was not back within 64 MiB of where it started 20 s after the attack");
        Assert.True(after - before < 64 * 1024, $"the gateway's resident memory was {(after - before) / 1024} MiB above where it started 20 s later");
        await AssertLiveAsync(_browser, Web, "/headers?after-attack");
    }

    private GatewayBrowser NewBrowser() => new(_deployment.GatewayUrl, _deployment.Fingerprint);

    /// <summary>Signs in with the gateway's form and follows on to <paramref name="label"/>'s <paramref name="path"/>, as a person does.</summary>
    private async Task SignInWithTheFormAsync(GatewayBrowser browser, string label, string path)
    {
        var target = browser.ServiceUri(label, path);
        using var form = new FormUrlEncodedContent([new("token", _deployment.UserToken), new("to", target.AbsoluteUri)]);
        using var post = new HttpRequestMessage(HttpMethod.Post, browser.GatewayUri("/signin")) { Content = form };
        post.Headers.TryAddWithoutValidation("Origin", browser.GatewayUri().GetLeftPart(UriPartial.Authority));
        using var signedIn = await browser.Client.SendAsync(post);
        Assert.Equal(HttpStatusCode.SeeOther, signedIn.StatusCode);
        var (response, visited) = await browser.FollowAsync(new Uri(browser.GatewayUri(), signedIn.Headers.Location!));
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(target, visited[^1]);
        }
    }

    /// <summary>One sign-in on the gateway, then web and notes reached from it; returns the three cookies it made.</summary>
    private async Task<(string Web, string Notes, string Gateway)> SignInEverywhereAsync(GatewayBrowser browser)
    {
        await SignInWithTheFormAsync(browser, Web, "/headers?web");
        // Already signed in on the gateway: notes gets its session through a code from that sign-in.
        var (response, visited) = await browser.FollowAsync(browser.ServiceUri(Notes, "/headers?notes"));
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(browser.ServiceUri(Notes, "/headers?notes"), visited[^1]);
        }
        using var home = await browser.Client.GetAsync(browser.GatewayUri("/"));
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        return (SessionCookie(browser, browser.ServiceUri(Web)), SessionCookie(browser, browser.ServiceUri(Notes)), SessionCookie(browser, browser.GatewayUri()));
    }

    private async Task AssertAllRefusedAsync(string web, string notes, string gateway, string marker)
    {
        using var replay = NewBrowser();
        Plant(replay, replay.ServiceUri(Web), web);
        Plant(replay, replay.ServiceUri(Notes), notes);
        Plant(replay, replay.GatewayUri(), gateway);
        using var onWeb = await replay.Client.GetAsync(replay.ServiceUri(Web, $"/headers?{marker}-web"));
        using var onNotes = await replay.Client.GetAsync(replay.ServiceUri(Notes, $"/headers?{marker}-notes"));
        using var onGateway = await replay.Client.GetAsync(replay.GatewayUri("/"));
        output.WriteLine($"{marker}: web {(int)onWeb.StatusCode}, notes {(int)onNotes.StatusCode}, gateway {(int)onGateway.StatusCode} -> {onGateway.Headers.Location}");
        Assert.Equal(HttpStatusCode.Unauthorized, onWeb.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, onNotes.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, onGateway.StatusCode);
        Assert.Equal("/signin", onGateway.Headers.Location?.OriginalString);
        Assert.False(_upstream.SawRequest(marker), "a request with a signed-out cookie reached the service");
    }

    private static async Task AssertLiveAsync(GatewayBrowser browser, string label, string path)
    {
        using var response = await browser.Client.GetAsync(browser.ServiceUri(label, path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task<HttpResponseMessage> PostSignOutAsync(GatewayBrowser browser, string label, string origin)
    {
        using var post = new HttpRequestMessage(HttpMethod.Post, browser.ServiceUri(label, "/_jumpgate/signout")) { Content = new FormUrlEncodedContent([]) };
        post.Headers.TryAddWithoutValidation("Origin", origin);
        return await browser.Client.SendAsync(post);
    }

    private static string SessionCookie(GatewayBrowser browser, Uri uri) =>
        browser.Cookies.GetCookies(uri)["__Host-jumpgate"]?.Value ?? throw new InvalidOperationException($"no session cookie for {uri.Host}");

    /// <summary>Puts a cookie value in a browser's jar for one host, as a thief replaying it would.</summary>
    private static void Plant(GatewayBrowser browser, Uri uri, string value) =>
        browser.Cookies.Add(uri, new Cookie("__Host-jumpgate", value, "/") { Secure = true, HttpOnly = true });

    private static string RandomText(int length) =>
        new(Random.Shared.GetItems<char>("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", length));

    private static string RandomHex(int length) => new(Random.Shared.GetItems<char>("0123456789abcdef", length));

    private static double Percentile(List<TimeSpan> sorted, double fraction) =>
        sorted[Math.Min(sorted.Count - 1, (int)(fraction * sorted.Count))].TotalMilliseconds;

}
