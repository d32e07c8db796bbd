using System.Net;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Http;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Jumpgate.Tests.Http;

/// <summary>What a service sees of a browser's request, and what the browser sees of the answer.</summary>
public sealed class ForwardedRequestTests
{
    private static readonly ServiceAnnouncement Jupyter = new() { Name = "jupyter", Port = 8888, Http = true, UpstreamHost = "127.0.0.1:8888" };

    [Fact]
    public async Task CarriesTheServicesOwnHostAndAMatchingOriginByDefault()
    {
        var http = Browser("POST", "/api/kernels?x=1", ("Origin", "https://jupyter--node1.gw.example.org"), ("Referer", "https://jupyter--node1.gw.example.org/tree"));

        using var message = await ForwardAsync(http, Jupyter);

        Assert.Equal(new Uri("http://127.0.0.1:8888/api/kernels?x=1"), message.RequestUri);
        Assert.Equal("127.0.0.1:8888", message.Headers.Host);
        Assert.Equal(["http://127.0.0.1:8888"], message.Headers.GetValues("Origin"));
        Assert.Equal(["http://127.0.0.1:8888/tree"], message.Headers.GetValues("Referer"));
        Assert.Equal(["jupyter--node1.gw.example.org"], message.Headers.GetValues("X-Forwarded-Host"));
        Assert.Equal(["https"], message.Headers.GetValues("X-Forwarded-Proto"));
        Assert.Equal(["203.0.113.7"], message.Headers.GetValues("X-Forwarded-For"));
    }

    [Fact]
    public async Task PreserveHostPassesTheBrowsersHostAndOrigin()
    {
        var http = Browser("GET", "/", ("Origin", "https://jupyter--node1.gw.example.org"));

        using var message = await ForwardAsync(http, Jupyter with { PreserveHost = true });

        Assert.Equal("jupyter--node1.gw.example.org", message.Headers.Host);
        Assert.Equal(["https://jupyter--node1.gw.example.org"], message.Headers.GetValues("Origin"));
    }

    [Fact]
    public async Task NeverForwardsTheGatewaysCookieHopByHopHeadersOrClaimedForwardingHeaders()
    {
        var http = Browser("GET", "/tree",
            ("Cookie", $"_xsrf=abc; {BrowserSessions.CookieName}=0123456789abcdef.secret; username-127-0-0-1-8888=\"2|x\""),
            ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("Proxy-Authorization", "Basic eA=="),
            ("X-Forwarded-For", "10.9.9.9"), ("Accept", "text/html"));

        using var message = await ForwardAsync(http, Jupyter);

        var cookie = Assert.Single(message.Headers.GetValues("Cookie"));
        Assert.Equal("_xsrf=abc; username-127-0-0-1-8888=\"2|x\"", cookie);
        Assert.DoesNotContain(BrowserSessions.CookieName, cookie, StringComparison.Ordinal);
        Assert.False(message.Headers.Contains("Keep-Alive"));
        Assert.False(message.Headers.Contains("Proxy-Authorization"));
        Assert.Equal(["203.0.113.7"], message.Headers.GetValues("X-Forwarded-For"));
        Assert.Equal(["text/html"], message.Headers.GetValues("Accept"));
    }

    [Fact]
    public async Task NeverForwardsTheBrowsersOwnClaimsAboutWhereTheRequestCameFrom()
    {
        var http = Browser("GET", "/admin",
            ("Forwarded", "for=10.0.0.1;proto=https;host=admin.internal"), ("X-Real-IP", "10.0.0.1"),
            ("X-Forwarded-Port", "443"), ("X-Forwarded-Prefix", "/admin"), ("X-Forwarded-Host", "admin.internal"), ("X-Forwarded-Proto", "http"),
            ("x-forwarded-server", "trusted"), ("X-Original-URL", "/admin/delete"), ("X-Original-Host", "admin.internal"),
            ("X-Rewrite-URL", "/admin/delete"), ("X-Client-IP", "10.0.0.1"), ("True-Client-IP", "10.0.0.1"), ("X-Cluster-Client-IP", "10.0.0.1"),
            ("X-Requested-With", "XMLHttpRequest"));

        using var message = await ForwardAsync(http, Jupyter);

        var sent = message.Headers.Select(h => h.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var claim in new[]
        {
            "Forwarded", "X-Real-IP", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "X-Original-URL", "X-Original-Host",
            "X-Rewrite-URL", "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP",
        })
        {
            Assert.DoesNotContain(claim, sent);
        }
        // What the gateway says itself, once, and an ordinary X- header untouched.
        Assert.Equal(["203.0.113.7"], message.Headers.GetValues("X-Forwarded-For"));
        Assert.Equal(["https"], message.Headers.GetValues("X-Forwarded-Proto"));
        Assert.Equal(["jupyter--node1.gw.example.org"], message.Headers.GetValues("X-Forwarded-Host"));
        Assert.Equal(["XMLHttpRequest"], message.Headers.GetValues("X-Requested-With"));
    }

    [Fact]
    public void AServicesCookiesReachTheBrowserHostOnlyAndNeverAsTheGatewaysOwn()
    {
        var http = Browser("GET", "/");
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        foreach (var cookie in new[]
        {
            "_xsrf=2|abc; Path=/",
            "planted=1; Domain=gw.example.org; Path=/; Secure",
            "neighbour=1; path=/; domain=.gw.example.org",
            "bare=1;Domain;HttpOnly",
            "spaced=1 ;  DOMAIN = other--node1.gw.example.org ; SameSite=Lax",
            $"{BrowserSessions.CookieName}=0123456789abcdef.forged; Path=/; Secure; HttpOnly",
            "__host-JUMPGATE=forged; Path=/; Secure",
        })
        {
            response.Headers.TryAddWithoutValidation("Set-Cookie", cookie);
        }

        new ForwardedRequest(http, Jupyter).CopyResponseHeaders(response);

        Assert.Equal(
            new[] { "_xsrf=2|abc; Path=/", "planted=1; Path=/; Secure", "neighbour=1; path=/", "bare=1;HttpOnly", "spaced=1 ; SameSite=Lax" },
            http.Response.Headers.SetCookie.ToArray<string?>());
    }

    [Fact]
    public void AResponseWhoseOnlyCookieIsTheGatewaysOwnSetsNone()
    {
        var http = Browser("GET", "/");
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("Set-Cookie", $"{BrowserSessions.CookieName}=forged; Path=/; Secure");

        new ForwardedRequest(http, Jupyter).CopyResponseHeaders(response);

        Assert.False(http.Response.Headers.ContainsKey("Set-Cookie"));
    }

    [Fact]
    public async Task AddsTheServicesOwnTokenWhenTheAgentHoldsOne()
    {
        var http = Browser("GET", "/api/contents", ("Authorization", "token from-the-browser"));

        using var message = await ForwardAsync(http, Jupyter with { Token = "agent-held" });

        Assert.Equal(["token agent-held"], message.Headers.GetValues("Authorization"));
    }

    [Fact]
    public void RewritesRedirectsToTheServicesOwnAddressBackToItsSubdomain()
    {
        var http = Browser("GET", "/");
        using var response = new HttpResponseMessage(HttpStatusCode.Found) { Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("Location", "http://127.0.0.1:8888/tree?");
        response.Headers.TryAddWithoutValidation("Server", "TornadoServer/6.2");
        response.Headers.TryAddWithoutValidation("Connection", "close");

        new ForwardedRequest(http, Jupyter).CopyResponseHeaders(response);

        Assert.Equal(302, http.Response.StatusCode);
        Assert.Equal("https://jupyter--node1.gw.example.org/tree?", http.Response.Headers.Location.ToString());
        Assert.Equal("TornadoServer/6.2", http.Response.Headers.Server.ToString());
        Assert.False(http.Response.Headers.ContainsKey("Connection"));
    }

    [Fact]
    public void LeavesRedirectsElsewhereAlone()
    {
        var http = Browser("GET", "/");
        using var response = new HttpResponseMessage(HttpStatusCode.Found) { Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("Location", "http://127.0.0.1:88889/elsewhere");

        new ForwardedRequest(http, Jupyter).CopyResponseHeaders(response);

        Assert.Equal("http://127.0.0.1:88889/elsewhere", http.Response.Headers.Location.ToString());
    }

    /// <summary>The request the forwarder sends upstream, as the transform leaves it.</summary>
    private static async Task<HttpRequestMessage> ForwardAsync(HttpContext http, ServiceAnnouncement service)
    {
        var forwarded = new ForwardedRequest(http, service);
        var message = new HttpRequestMessage();
        await forwarded.TransformRequestAsync(http, message, forwarded.DestinationPrefix, CancellationToken.None);
        return message;
    }

    private static DefaultHttpContext Browser(string method, string target, params (string Name, string Value)[] headers)
    {
        var http = new DefaultHttpContext();
        var query = target.IndexOf('?', StringComparison.Ordinal);
        http.Request.Method = method;
        http.Request.Scheme = "https";
        http.Request.Host = new HostString("jupyter--node1.gw.example.org");
        http.Request.Path = query < 0 ? target : target[..query];
        http.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(target[query..]);
        http.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
        foreach (var (name, value) in headers)
        {
            http.Request.Headers.Append(name, value);
        }
        return http;
    }
}
