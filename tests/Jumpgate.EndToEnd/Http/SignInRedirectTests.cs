using System.Net;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// Issue 22 item 5: a one-time sign-in link's <c>next=</c> sends the browser to a path on the
/// service's own subdomain, never to another site, however it is disguised (a browser drops tabs
/// and newlines and reads "\" as "/", so "/\t/host" and "/\host" are "//host").
/// </summary>
public sealed class SignInRedirectTests(ITestOutputHelper output) : IAsyncLifetime
{
    private HttpFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await HttpFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task AOneTimeLinkWithAHostileNextRedirectsOnlyToAPathOnTheServicesOwnSubdomain()
    {
        // As they arrive decoded: the link carried next=/%09/evil.example/x.
        string[] hostile =
        [
            "/\t/evil.example/x", "/\n/evil.example/x", "/\\evil.example/x", "//evil.example/x", "/%2F%2Fevil.example/x", "/%5Cevil.example/x",
            "/%09/evil.example/x", "https://evil.example/x",
        ];
        foreach (var next in hostile)
        {
            var location = await CallbackLocationAsync(next);
            output.WriteLine($"next={Uri.EscapeDataString(next)} -> Location: {location}");
            Assert.Equal("/", location);
        }
        // And an honest one still lands where it said.
        Assert.Equal("/headers?landed", await CallbackLocationAsync("/headers?landed"));
    }

    [Fact]
    public async Task ChromiumFollowingALinkWithATabbedNextStaysOnTheServicesSubdomain()
    {
        using var chromium = new Chromium(output, Chromium.SpkiHash(Path.Combine(_fixture.Deployment.GatewayDir, "gateway.crt")));
        // Another origin Chromium can reach: the gateway's own address, whose pages are not the service's.
        var elsewhere = $"127.0.0.1:{_fixture.Browser.Port}";

        var dom = await chromium.DumpDomAsync(await _fixture.Deployment.OpenLinkAsync("node1", "web", $"/\t/{elsewhere}/signin?escaped"));

        // The service's root (the upstream's 404 for /), not the gateway's sign-in page on 127.0.0.1.
        Assert.Contains("no endpoint for GET /", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"token\"", dom, StringComparison.Ordinal);
        Assert.True(_fixture.Upstream.SawRequest("/"), "the browser never reached the service");
    }

    /// <summary>Follows a fresh one-time link for <paramref name="next"/> one hop: where the callback sends the browser.</summary>
    private async Task<string> CallbackLocationAsync(string next)
    {
        using var browser = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        using var response = await browser.Client.GetAsync(await _fixture.Deployment.OpenLinkAsync("node1", "web", next));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Host-jumpgate=", StringComparison.Ordinal));
        return response.Headers.TryGetValues("Location", out var values) ? values.Single() : "";
    }
}
