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
    public void CarriesTheServicesOwnHostAndAMatchingOriginByDefault()
    {
        var http = Browser("POST", "/api/kernels?x=1", ("Origin", "https://jupyter--node1.gw.example.org"), ("Referer", "https://jupyter--node1.gw.example.org/tree"));

        var forwarded = new ForwardedRequest(http, Jupyter);
        using var message = forwarded.ToHttpRequest();

        Assert.Equal(new Uri("http://127.0.0.1:8888/api/kernels?x=1"), message.RequestUri);
        Assert.Equal("127.0.0.1:8888", message.Headers.Host);
        Assert.Equal(["http://127.0.0.1:8888"], message.Headers.GetValues("Origin"));
        Assert.Equal(["http://127.0.0.1:8888/tree"], message.Headers.GetValues("Referer"));
        Assert.Equal(["jupyter--node1.gw.example.org"], message.Headers.GetValues("X-Forwarded-Host"));
        Assert.Equal(["https"], message.Headers.GetValues("X-Forwarded-Proto"));
        Assert.Equal(["203.0.113.7"], message.Headers.GetValues("X-Forwarded-For"));
    }

    [Fact]
    public void PreserveHostPassesTheBrowsersHostAndOrigin()
    {
        var http = Browser("GET", "/", ("Origin", "https://jupyter--node1.gw.example.org"));

        using var message = new ForwardedRequest(http, Jupyter with { PreserveHost = true }).ToHttpRequest();

        Assert.Equal("jupyter--node1.gw.example.org", message.Headers.Host);
        Assert.Equal(["https://jupyter--node1.gw.example.org"], message.Headers.GetValues("Origin"));
    }

    [Fact]
    public void NeverForwardsTheGatewaysCookieHopByHopHeadersOrClaimedForwardingHeaders()
    {
        var http = Browser("GET", "/tree",
            ("Cookie", $"_xsrf=abc; {BrowserSessions.CookieName}=0123456789abcdef.secret; username-127-0-0-1-8888=\"2|x\""),
            ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("Proxy-Authorization", "Basic eA=="),
            ("X-Forwarded-For", "10.9.9.9"), ("Accept", "text/html"));

        using var message = new ForwardedRequest(http, Jupyter).ToHttpRequest();

        var cookie = Assert.Single(message.Headers.GetValues("Cookie"));
        Assert.Equal("_xsrf=abc; username-127-0-0-1-8888=\"2|x\"", cookie);
        Assert.DoesNotContain(BrowserSessions.CookieName, cookie, StringComparison.Ordinal);
        Assert.False(message.Headers.Contains("Keep-Alive"));
        Assert.False(message.Headers.Contains("Proxy-Authorization"));
        Assert.Equal(["203.0.113.7"], message.Headers.GetValues("X-Forwarded-For"));
        Assert.Equal(["text/html"], message.Headers.GetValues("Accept"));
    }

    [Fact]
    public void AddsTheServicesOwnTokenWhenTheAgentHoldsOne()
    {
        var http = Browser("GET", "/api/contents", ("Authorization", "token from-the-browser"));

        using var message = new ForwardedRequest(http, Jupyter with { Token = "agent-held" }).ToHttpRequest();

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
