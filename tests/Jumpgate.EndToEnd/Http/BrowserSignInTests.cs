using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// A person in a real browser: opens a service's subdomain, is sent to the gateway's sign-in
/// form, types their token, presses Sign in, and lands on the service. Only a browser enforces
/// what the gateway's pages declare (their Content-Security-Policy), so only a browser can show
/// that the form's redirect to the service's subdomain is allowed.
/// </summary>
public sealed class BrowserSignInTests(ITestOutputHelper output) : IAsyncLifetime
{
    private HttpFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await HttpFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task TheSignInFormTakesABrowserOnToTheServiceItCameFrom()
    {
        var deployment = _fixture.Deployment;
        await using var page = await ChromiumPage.StartAsync(output, Chromium.SpkiHash(Path.Combine(deployment.GatewayDir, "gateway.crt")));
        var service = new Uri($"https://{HttpFixture.Label}.localhost:{_fixture.Browser.Port}/headers?from-browser");

        await page.NavigateAsync(service);
        var signInPage = await page.LocationAsync();
        await page.ActAndWaitForLoadAsync(
            $"document.getElementById('token').value = '{deployment.UserToken}'; document.querySelector('form button[type=submit]').click();");
        var landed = await page.LocationAsync();
        var body = await page.EvaluateAsync("document.body.innerText");

        Assert.StartsWith($"https://localhost:{_fixture.Browser.Port}/signin?to=", signInPage, StringComparison.Ordinal);
        Assert.Equal(service.AbsoluteUri, landed);
        Assert.Contains("/headers?from-browser", _fixture.Upstream.Requests.Select(r => r.PathAndQuery));
        Assert.DoesNotContain(page.Messages, m => m.Contains("Content Security Policy", StringComparison.Ordinal));
        Assert.DoesNotContain(deployment.UserToken, body, StringComparison.Ordinal);
    }
}
