using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>An HTTP service behind an agent, reached on its subdomain through the gateway's sign-in.</summary>
public sealed class HttpServiceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private HttpFixture _fixture = null!;

    private GatewayBrowser Browser => _fixture.Browser;

    public async Task InitializeAsync() => _fixture = await HttpFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task ABrowserThatHasNotSignedInIsSentToTheSignInPageAndNeverReachesTheService()
    {
        var (page, visited) = await Browser.FollowAsync(Browser.ServiceUri(HttpFixture.Label, "/headers?unsigned-navigation"));
        using (page)
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal(Browser.GatewayUri().Host, visited[^1].Host);
            Assert.Equal("/signin", visited[^1].AbsolutePath);
            Assert.Contains("name=\"token\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using var api = await Browser.Client.GetAsync(Browser.ServiceUri(HttpFixture.Label, "/headers?unsigned-api"));
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);

        Assert.False(_fixture.Upstream.SawRequest("unsigned"), "a request without a session reached the service");
    }

    [Fact]
    public async Task SigningInWithTheFormGivesAHostOnlySessionCookieAndTheServiceSeesItsOwnHost()
    {
        var target = Browser.ServiceUri(HttpFixture.Label, "/headers?after-sign-in");
        using var form = new FormUrlEncodedContent([new("token", _fixture.Deployment.UserToken), new("to", target.AbsoluteUri)]);
        using var post = new HttpRequestMessage(HttpMethod.Post, Browser.GatewayUri("/signin")) { Content = form };
        post.Headers.TryAddWithoutValidation("Origin", Browser.GatewayUri().GetLeftPart(UriPartial.Authority));

        using var signedIn = await Browser.Client.SendAsync(post);

        Assert.Equal(HttpStatusCode.SeeOther, signedIn.StatusCode);
        var cookie = Assert.Single(signedIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("__Host-jumpgate=", cookie, StringComparison.Ordinal);
        foreach (var attribute in new[] { "httponly", "secure", "samesite=lax", "path=/", "expires=" })
        {
            Assert.Contains(attribute, cookie.ToLowerInvariant(), StringComparison.Ordinal);
        }
        Assert.DoesNotContain("domain=", cookie.ToLowerInvariant(), StringComparison.Ordinal);

        var (response, visited) = await Browser.FollowAsync(new Uri(Browser.GatewayUri(), signedIn.Headers.Location!));
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(target, visited[^1]);
            var seen = await response.Content.ReadAsStringAsync();
            output.WriteLine(seen);
            var request = Assert.Single(_fixture.Upstream.Requests, r => r.PathAndQuery.Contains("after-sign-in", StringComparison.Ordinal));
            Assert.Equal($"127.0.0.1:{_fixture.Upstream.Port}", request.Headers["Host"]);
            Assert.Equal($"{HttpFixture.Label}.localhost:{Browser.Port}", request.Headers["X-Forwarded-Host"]);
            Assert.Equal("https", request.Headers["X-Forwarded-Proto"]);
            Assert.Equal("127.0.0.1", request.Headers["X-Forwarded-For"]);
            Assert.False(request.Headers.TryGetValue("Cookie", out var sent) && sent.Contains("jumpgate", StringComparison.Ordinal), "the service saw the gateway's session cookie");
        }
        var audit = await _fixture.Deployment.JumpgateAsync("gateway", "audit", "--json", "--dir", _fixture.Deployment.GatewayDir);
        Assert.Contains("\"event\":\"signin\"", audit.Stdout.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongTokenOnTheSignInFormIsRefusedAndAudited()
    {
        using var form = new FormUrlEncodedContent([new("token", "jgu_000000000000_" + new string('x', 43)), new("to", "")]);
        using var post = new HttpRequestMessage(HttpMethod.Post, Browser.GatewayUri("/signin")) { Content = form };

        using var refused = await Browser.Client.SendAsync(post);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("invalid or revoked token", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(refused.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : []);
        var audit = await _fixture.Deployment.JumpgateAsync("gateway", "audit", "--json", "--dir", _fixture.Deployment.GatewayDir);
        Assert.Contains(JsonLines(audit.Stdout), e => e.GetProperty("event").GetString() == "signin" && e.GetProperty("outcome").GetString() == "failed");
    }

    [Fact]
    public async Task TheOneTimeLinkFromJumpgateOpenSignsInOnceAndOnlyOnce()
    {
        var link = await _fixture.OpenLinkAsync();
        Assert.Equal($"{HttpFixture.Label}.localhost", link.Host);

        var (first, _) = await Browser.FollowAsync(link);
        using (first)
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }
        using var otherBrowser = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        var (second, visited) = await otherBrowser.FollowAsync(link);
        using (second)
        {
            Assert.Equal("/signin", visited[^1].AbsolutePath);
        }
    }

    [Fact]
    public async Task AUserTheRulesDoNotAllowIsRefusedAndTheRequestNeverReachesTheService()
    {
        var opened = await _fixture.Deployment.JumpgateAsync("open", "node1", "web");
        Assert.Equal(0, opened.ExitCode);
        var refusedLink = await Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable, ["open", "node1", "web"], Signals.Timeout(60),
            new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = await LoginAsync(_fixture.OutsiderToken) });
        Assert.NotEqual(0, refusedLink.ExitCode);
        Assert.Contains("user outsider may not reach node1:web", refusedLink.Stderr, StringComparison.Ordinal);

        // Signed in as outsider through the form, the browser still may not use the service.
        var target = Browser.ServiceUri(HttpFixture.Label, "/headers?outsider");
        using var form = new FormUrlEncodedContent([new("token", _fixture.OutsiderToken), new("to", target.AbsoluteUri)]);
        using var signedIn = await Browser.Client.PostAsync(Browser.GatewayUri("/signin"), form);
        var (response, _) = await Browser.FollowAsync(new Uri(Browser.GatewayUri(), signedIn.Headers.Location!));
        using (response)
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("user outsider may not reach node1:web", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.False(_fixture.Upstream.SawRequest("outsider"), "a refused request reached the service");
    }

    [Fact]
    public async Task A200MiBUploadAndDownloadPassWholeWhileTheGatewaysMemoryStaysBounded()
    {
        const long size = 200L << 20;
        await _fixture.SignInAsync();
        var gateway = _fixture.Deployment.Gateway!.Id;
        var before = ProcessMemory.ResidentKiB(gateway);

        var clock = Stopwatch.StartNew();
        using var content = new StreamContent(new DeterministicStream(size, seed: 11));
        using var put = new HttpRequestMessage(HttpMethod.Put, Browser.ServiceUri(HttpFixture.Label, "/upload")) { Content = content };
        using var uploaded = await Browser.Client.SendAsync(put);
        uploaded.EnsureSuccessStatusCode();
        var (bytes, sha256) = HttpUpstream.ParseUploadResult(await uploaded.Content.ReadAsStringAsync());
        var upSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        using var downloaded = await Browser.Client.GetAsync(Browser.ServiceUri(HttpFixture.Label, $"/download?bytes={size}&seed=12"), HttpCompletionOption.ResponseHeadersRead);
        downloaded.EnsureSuccessStatusCode();
        await using var body = await downloaded.Content.ReadAsStreamAsync();
        var downHash = Convert.ToHexStringLower(await SHA256.HashDataAsync(body));
        var downSeconds = clock.Elapsed.TotalSeconds;
        var peak = ProcessMemory.PeakKiB(gateway);

        Assert.Equal(size, bytes);
        Assert.Equal(DeterministicBytes.Sha256(size, seed: 11), sha256);
        Assert.Equal(DeterministicBytes.Sha256(size, seed: 12), downHash);
        output.WriteLine($"200 MiB up in {upSeconds:0.0} s, down in {downSeconds:0.0} s; gateway resident {before / 1024} MiB before, peak {peak / 1024} MiB");
        // Bodies stream: 200 MiB each way may not raise the gateway's peak by anywhere near that.
        Assert.True(peak - before < 64 * 1024, $"the gateway's peak resident memory grew by {(peak - before) / 1024} MiB while 200 MiB passed");
    }

    [Fact]
    public async Task AStreamedResponseReachesTheBrowserEventByEvent()
    {
        await _fixture.SignInAsync();

        // 60 events a second apart: the first must arrive long before the last is even written.
        using var response = await Browser.Client.GetAsync(Browser.ServiceUri(HttpFixture.Label, "/stream?events=60&interval_ms=1000"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);
        using var deadline = new CancellationTokenSource(Signals.Timeout(20));
        var first = await reader.ReadLineAsync(deadline.Token);
        var second = await reader.ReadLineAsync(deadline.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("event 0", first);
        Assert.Equal("event 1", second);
    }

    [Fact]
    public async Task AWebSocketKeepsItsMessagesWholeBothWays()
    {
        await _fixture.SignInAsync();
        using var socket = await ConnectWebSocketAsync(Browser.ServiceUri(HttpFixture.Label).GetLeftPart(UriPartial.Authority));
        var large = RandomNumberGenerator.GetBytes(3 << 20);

        await socket.SendAsync(Encoding.UTF8.GetBytes("hello, kernel"), WebSocketMessageType.Text, true, CancellationToken.None);
        var (text, textType) = await ReceiveMessageAsync(socket);
        await socket.SendAsync(large, WebSocketMessageType.Binary, true, CancellationToken.None);
        var (echoed, binaryType) = await ReceiveMessageAsync(socket);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);

        Assert.Equal(WebSocketMessageType.Text, textType);
        Assert.Equal("hello, kernel", Encoding.UTF8.GetString(text));
        Assert.Equal(WebSocketMessageType.Binary, binaryType);
        Assert.Equal(large, echoed);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        // The audit counts the frames each way, so at least every payload byte.
        var payload = large.Length + "hello, kernel".Length;
        var closed = await Signals.UntilAsync(async () =>
        {
            var audit = await _fixture.Deployment.JumpgateAsync("gateway", "audit", "--json", "--dir", _fixture.Deployment.GatewayDir);
            return JsonLines(audit.Stdout).Any(e => e.GetProperty("event").GetString() == "http" && e.GetProperty("outcome").GetString() == "closed"
                && e.TryGetProperty("bytes_up", out var up) && up.GetInt64() >= payload && e.GetProperty("bytes_down").GetInt64() >= payload);
        }, Signals.Timeout(20), every: TimeSpan.FromMilliseconds(500));
        Assert.True(closed, "no http event audited the WebSocket's close with its bytes each way");
    }

    [Fact]
    public async Task AWebSocketOverHttp2ExtendedConnectIsRelayedToo()
    {
        await _fixture.SignInAsync();
        using var socket = new ClientWebSocket();
        // As Chromium does when the gateway offers HTTP/2: RFC 8441's extended CONNECT instead of an Upgrade.
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.SetRequestHeader("Origin", Browser.ServiceUri(HttpFixture.Label).GetLeftPart(UriPartial.Authority));
        using var invoker = new HttpMessageInvoker(Browser.Handler, disposeHandler: false);
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        await socket.ConnectAsync(new UriBuilder(Browser.ServiceUri(HttpFixture.Label, "/ws")) { Scheme = "wss" }.Uri, invoker, deadline.Token);

        await socket.SendAsync(Encoding.UTF8.GetBytes("over h2"), WebSocketMessageType.Text, true, deadline.Token);
        var (echoed, type) = await ReceiveMessageAsync(socket);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", deadline.Token);

        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("over h2", Encoding.UTF8.GetString(echoed));
        Assert.True(_fixture.Upstream.SawRequest("/ws"));
    }

    [Fact]
    public async Task AWebSocketFromAnotherOriginIsRefusedBeforeTheService()
    {
        await _fixture.SignInAsync();

        var refused = await Assert.ThrowsAsync<WebSocketException>(() => ConnectWebSocketAsync($"https://evil--node1.localhost:{Browser.Port}"));

        output.WriteLine(refused.Message);
        Assert.False(_fixture.Upstream.SawRequest("/ws"), "a cross-origin WebSocket reached the service");
    }

    [Fact]
    public async Task MalformedAndOversizedRequestsGetTheRight4xxAndNeverReachTheService()
    {
        await _fixture.SignInAsync();
        var cookie = Browser.CookieHeader(Browser.ServiceUri(HttpFixture.Label));
        var host = $"{HttpFixture.Label}.localhost:{Browser.Port}";
        var sni = $"{HttpFixture.Label}.localhost";

        var smuggled = await _fixture.RawAsync(sni, $"POST /headers?smuggled HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Signals.Timeout(20), finish: false);
        var tooLarge = await _fixture.RawAsync(sni, $"POST /upload?too-large HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Length: {2L << 30}\r\n\r\n", Signals.Timeout(20), finish: false);
        var hugeHeaders = await _fixture.RawAsync(sni, $"GET /headers?huge HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nX-Padding: {new string('a', 64 * 1024)}\r\n\r\n", Signals.Timeout(20), finish: false);
        var foreign = await _fixture.RawAsync("example.org", "GET /headers?foreign HTTP/1.1\r\nHost: example.org\r\n\r\n", Signals.Timeout(20), finish: false);
        var clock = Stopwatch.StartNew();
        var slow = await _fixture.RawAsync(sni, $"GET /headers?slow HTTP/1.1\r\nHost: {host}\r\n", Signals.Timeout(30));
        var slowSeconds = clock.Elapsed.TotalSeconds;

        Assert.StartsWith("HTTP/1.1 400", smuggled, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 413", tooLarge, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 431", hugeHeaders, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 421", foreign, StringComparison.Ordinal);
        // gateway.yaml sets http.header_timeout: 2s; the connection is answered and closed, not held.
        Assert.StartsWith("HTTP/1.1 408", slow, StringComparison.Ordinal);
        Assert.InRange(slowSeconds, 1, 15);
        foreach (var marker in new[] { "smuggled", "too-large", "huge", "foreign", "slow" })
        {
            Assert.False(_fixture.Upstream.SawRequest(marker), $"the {marker} request reached the service");
        }
        // And the gateway serves the next request as before.
        using var fine = await Browser.Client.GetAsync(Browser.ServiceUri(HttpFixture.Label, "/headers?still-fine"));
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }

    private async Task<ClientWebSocket> ConnectWebSocketAsync(string origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", origin);
        socket.Options.SetRequestHeader("Cookie", Browser.CookieHeader(Browser.ServiceUri(HttpFixture.Label)));
        socket.Options.CollectHttpResponseDetails = true;
        var uri = new UriBuilder(Browser.ServiceUri(HttpFixture.Label, "/ws")) { Scheme = "wss" }.Uri;
        using var invoker = new HttpMessageInvoker(Browser.Handler, disposeHandler: false);
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        try
        {
            await socket.ConnectAsync(uri, invoker, deadline.Token);
            return socket;
        }
        catch
        {
            output.WriteLine($"WebSocket handshake answered HTTP {(int)socket.HttpStatusCode}");
            socket.Dispose();
            throw;
        }
    }

    private static async Task<(byte[] Payload, WebSocketMessageType Type)> ReceiveMessageAsync(WebSocket socket)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        var message = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, deadline.Token);
            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage)
            {
                return (message.ToArray(), received.MessageType);
            }
        }
    }

    /// <summary>Logs a user in under a config home of its own and returns that home.</summary>
    private async Task<string> LoginAsync(string token)
    {
        var home = _fixture.Deployment.Dir.File("home-" + token[4..16]);
        Directory.CreateDirectory(home);
        var login = await Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable,
            ["login", _fixture.Deployment.GatewayUrl, "--token-file", await WriteTokenAsync(token), "--fingerprint", _fixture.Deployment.Fingerprint],
            Signals.Timeout(60), new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = home });
        Assert.Equal(0, login.ExitCode);
        return home;
    }

    private async Task<string> WriteTokenAsync(string token)
    {
        var path = _fixture.Deployment.Dir.File("token-" + token[4..16]);
        await File.WriteAllTextAsync(path, token);
        return path;
    }

    private static IEnumerable<JsonElement> JsonLines(string text) =>
        text.Trim().StartsWith('[')
            ? JsonDocument.Parse(text).RootElement.EnumerateArray().ToList()
            : text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();

}
