using System.Net;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// Issue 22 item 9, through a real gateway, agent and upstream: the service never sees what the
/// browser claims about where a request came from, and a service's cookies reach the browser
/// host-only on its own subdomain, never as the gateway's session cookie.
/// </summary>
public sealed class ServiceHeaderTests(ITestOutputHelper output) : IAsyncLifetime
{
    private HttpFixture _fixture = null!;

    private GatewayBrowser Browser => _fixture.Browser;

    public async Task InitializeAsync() => _fixture = await HttpFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task TheServiceNeverSeesTheBrowsersOwnForwardingClaims()
    {
        await _fixture.SignInAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, Browser.ServiceUri(HttpFixture.Label, "/headers?claims"));
        request.Headers.TryAddWithoutValidation("Forwarded", "for=10.0.0.1;proto=https;host=admin.internal");
        request.Headers.TryAddWithoutValidation("X-Real-IP", "10.0.0.1");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "10.0.0.1");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Port", "8443");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", "/admin");
        request.Headers.TryAddWithoutValidation("X-Original-URL", "/admin/delete");

        using var response = await Browser.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(_fixture.Upstream.Requests, r => r.PathAndQuery == "/headers?claims").Headers;
        output.WriteLine(string.Join('\n', seen.Select(h => $"{h.Key}: {h.Value}")));
        foreach (var claim in new[] { "Forwarded", "X-Real-IP", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Original-URL" })
        {
            Assert.False(seen.ContainsKey(claim), $"the service saw the browser's {claim}");
        }
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
    }

    [Fact]
    public async Task AServicesCookiesReachTheBrowserHostOnlyAndCannotReplaceTheGatewaysSession()
    {
        await _fixture.SignInAsync();
        var service = Browser.ServiceUri(HttpFixture.Label);
        var session = Browser.Cookies.GetCookies(service)["__Host-jumpgate"]?.Value;
        Assert.NotNull(session);
        string[] planted =
        [
            "planted=1; Domain=localhost; Path=/; Secure",
            "neighbour=1; Path=/; Domain=.localhost",
            "__Host-jumpgate=forged; Path=/; Secure; HttpOnly",
            "own=1; Path=/",
        ];
        var query = string.Join('&', planted.Select(c => "set=" + Uri.EscapeDataString(c)));

        using var response = await Browser.Client.GetAsync(Browser.ServiceUri(HttpFixture.Label, "/cookies?" + query));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = response.Headers.GetValues("Set-Cookie").ToList();
        output.WriteLine(string.Join('\n', received));
        Assert.Equal(["planted=1; Path=/; Secure", "neighbour=1; Path=/", "own=1; Path=/"], received);
        // The browser keeps them for the service's host alone: the gateway's own name and a neighbour get none.
        Assert.Equal("1", Browser.Cookies.GetCookies(service)["planted"]?.Value);
        Assert.DoesNotContain(Browser.Cookies.GetCookies(Browser.GatewayUri()), c => c.Name is "planted" or "neighbour");
        Assert.DoesNotContain(Browser.Cookies.GetCookies(Browser.ServiceUri("other--node1")), c => c.Name is "planted" or "neighbour");
        Assert.Equal(session, Browser.Cookies.GetCookies(service)["__Host-jumpgate"]?.Value);
        using var still = await Browser.Client.GetAsync(Browser.ServiceUri(HttpFixture.Label, "/headers?still-signed-in"));
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }
}
