using System.Net;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// The dashboard at the gateway's own name, in headless Chromium: signed in with the one-time
/// link `jumpgate open --dashboard` prints, it shows the live agent, the host and a stream opened
/// through `jumpgate forward`, and drops the stream when it ends, without a reload; an admin's
/// page disables a user (the confirm dialog accepted) and that user's open stream closes. A
/// user's page never carries another user's stream, and an action without the page's CSRF
/// token is refused. Screenshots at desktop and phone width go to the test artifacts.
/// </summary>
public sealed class DashboardTests(ITestOutputHelper output) : IAsyncLifetime
{
    private DashboardFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await DashboardFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task AUsersPageShowsTheAgentTheHostAndTheirStreamLiveAndDropsItWhenItCloses()
    {
        var researcher = _fixture.Deployment.ClientEnvironment;
        await using var page = await ChromiumPage.StartAsync(output, Chromium.SpkiHash(_fixture.CertificatePath));
        await page.NavigateAsync(await _fixture.DashboardLinkAsync(researcher));
        Assert.Equal($"https://localhost:{new Uri(_fixture.Deployment.GatewayUrl).Port}/", await page.LocationAsync());
        // Set once: if the page ever reloads, it is gone.
        await page.EvaluateAsync("window.sameLoad = 'yes'");

        using var stream = await _fixture.OpenStreamAsync(researcher, output, "researcher");
        await UntilAsync(page, "document.querySelector('#streams tr[data-user=\"researcher\"]') !== null", "researcher's stream to appear");

        Assert.Equal("lab-a", await page.EvaluateAsync("document.querySelector('#agents tr[data-agent]').dataset.agent"));
        Assert.Equal("node1", await page.EvaluateAsync("document.querySelector('#hosts tr[data-host]').dataset.host"));
        var row = await page.EvaluateAsync("document.querySelector('#streams tr[data-user=\"researcher\"]').innerText");
        output.WriteLine($"stream row: {row}");
        Assert.Contains("node1", row, StringComparison.Ordinal);
        Assert.Contains("echo", row, StringComparison.Ordinal);
        // The user's own HTTP service, as a link to its subdomain; no admin lists for a user.
        Assert.Contains("web--node1.localhost", await page.EvaluateAsync("document.querySelector('#services a').href"), StringComparison.Ordinal);
        Assert.Equal("none", await page.EvaluateAsync("getComputedStyle(document.querySelector('#admin')).display"));
        await UntilAsync(page, "document.querySelector('#spark-streams polyline') !== null", "the sparkline to be drawn");

        Assert.True(new FileInfo(await page.ScreenshotAsync("dashboard/user-desktop.png", 1280, 900)).Length > 1000);
        Assert.True(new FileInfo(await page.ScreenshotAsync("dashboard/user-phone.png", 390, 1200)).Length > 1000);

        stream.Close();
        await UntilAsync(page, "document.querySelectorAll('#streams tr[data-stream-id]').length === 0", "the closed stream to leave the page");
        Assert.Equal("yes", await page.EvaluateAsync("window.sameLoad"));
        Assert.Equal("false", await page.EvaluateAsync("document.querySelector('#streams-empty').hidden"));
    }

    [Fact]
    public async Task AnAdminDisablesAUserFromThePageAndTheirOpenStreamCloses()
    {
        var alice = await _fixture.AddUserAsync("alice");
        using var stream = await _fixture.OpenStreamAsync(alice, output, "alice");
        await using var page = await ChromiumPage.StartAsync(output, Chromium.SpkiHash(_fixture.CertificatePath));
        await page.NavigateAsync(await _fixture.DashboardLinkAsync(_fixture.Deployment.ClientEnvironment, admin: true));
        await UntilAsync(page, "document.querySelector('#streams tr[data-user=\"alice\"]') !== null", "alice's stream to appear on the admin's page");
        await UntilAsync(page, "document.querySelector('#users button[data-action=\"disable-user\"][data-target=\"alice\"]') !== null", "the admin lists to load");
        Assert.Equal("root", await page.EvaluateAsync("document.querySelector('#user').textContent"));
        // An admin sees the agent's address; the audit tail is there.
        Assert.StartsWith("127.0.0.1:", await page.EvaluateAsync("document.querySelector('#agents tr[data-agent=\"lab-a\"] td[data-label=\"Address\"]').textContent"), StringComparison.Ordinal);
        Assert.NotEqual("0", await page.EvaluateAsync("document.querySelectorAll('#audit tbody tr').length"));
        await page.ScreenshotAsync("dashboard/admin-desktop.png", 1280, 1400);
        await page.ScreenshotAsync("dashboard/admin-phone.png", 390, 2400);

        var dialog = await page.AcceptDialogAsync("document.querySelector('#users button[data-action=\"disable-user\"][data-target=\"alice\"]').click()");
        output.WriteLine($"the dialog asked: {dialog}");
        Assert.Contains("Disable alice", dialog, StringComparison.Ordinal);

        // The access monitor cuts alice's stream: her end reads the close.
        var read = await stream.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(Signals.Timeout(15));
        Assert.Equal(0, read);
        await UntilAsync(page, "document.querySelector('#streams tr[data-user=\"alice\"]') === null", "alice's stream to leave the admin's page");
        await UntilAsync(page, "document.querySelector('#users tr[data-user=\"alice\"]').innerText.includes('disabled')", "alice to show as disabled");
        Assert.Equal("disabled user alice", await page.EvaluateAsync("document.querySelector('#admin-message').textContent"));

        // Audited as the CLI's disable is: an admin event naming the admin and where they were.
        var audit = await _fixture.Deployment.JumpgateAsync("gateway", "audit", "--event", "admin", "--user", "alice", "--json", "--dir", _fixture.Deployment.GatewayDir);
        var disable = audit.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement)
            .Single(e => e.GetProperty("outcome").GetString() == "disable");
        Assert.Equal("root", disable.GetProperty("admin").GetString());
        Assert.Equal("disabled user alice", disable.GetProperty("reason").GetString());
        Assert.StartsWith("127.0.0.1:", disable.GetProperty("source").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AUsersPageNeverCarriesAnotherUsersStream()
    {
        var carol = await _fixture.AddUserAsync("carol");
        using var theirs = await _fixture.OpenStreamAsync(carol, output, "carol");
        using var mine = await _fixture.OpenStreamAsync(_fixture.Deployment.ClientEnvironment, output, "researcher");
        using var browser = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        var (signIn, _) = await browser.FollowAsync(await _fixture.DashboardLinkAsync(_fixture.Deployment.ClientEnvironment));
        signIn.Dispose();

        // What the gateway sends the page: the first snapshot that has the user's own stream.
        var snapshot = await FirstSnapshotAsync(browser, s => s.GetProperty("streams").GetArrayLength() > 0);
        output.WriteLine(snapshot.ToString());
        var users = snapshot.GetProperty("streams").EnumerateArray().Select(s => s.GetProperty("user").GetString()).ToList();
        Assert.Equal(["researcher"], users);
        Assert.False(snapshot.GetProperty("admin").GetBoolean());
        Assert.DoesNotContain("carol", snapshot.ToString(), StringComparison.Ordinal);
        // An agent's address is an admin's to see.
        Assert.False(snapshot.GetProperty("agents")[0].TryGetProperty("address", out _));

        // And the admin's page, for contrast, carries both.
        using var admin = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        var (adminSignIn, _) = await admin.FollowAsync(await _fixture.DashboardLinkAsync(_fixture.Deployment.ClientEnvironment, admin: true));
        adminSignIn.Dispose();
        var all = await FirstSnapshotAsync(admin, s => s.GetProperty("streams").GetArrayLength() >= 2);
        Assert.Equal(["carol", "researcher"], all.GetProperty("streams").EnumerateArray().Select(s => s.GetProperty("user").GetString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AnActionWithoutThePagesCsrfTokenIsRefused()
    {
        await _fixture.AddUserAsync("dave");
        using var admin = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        var (signIn, _) = await admin.FollowAsync(await _fixture.DashboardLinkAsync(_fixture.Deployment.ClientEnvironment, admin: true));
        signIn.Dispose();
        var page = await admin.Client.GetStringAsync(admin.GatewayUri("/"));
        var csrf = System.Text.RegularExpressions.Regex.Match(page, "name=\"jumpgate-csrf\" content=\"([0-9a-f]{64})\"").Groups[1].Value;
        Assert.NotEmpty(csrf);
        var origin = $"https://localhost:{admin.Port}";

        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(admin, origin, csrf: null));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(admin, origin, csrf: new string('0', 64)));
        // A page on a service's subdomain is same-site, and still not the dashboard.
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(admin, $"https://web--node1.localhost:{admin.Port}", csrf));
        Assert.False(await DisabledAsync(admin, "dave"));

        // A user's own page has a token of its own, and it opens no admin action either.
        using var user = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        var (userSignIn, _) = await user.FollowAsync(await _fixture.DashboardLinkAsync(_fixture.Deployment.ClientEnvironment));
        userSignIn.Dispose();
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(user, origin, Csrf(user)));

        // The same request with the page's token is what the button sends.
        Assert.Equal(HttpStatusCode.OK, await PostAsync(admin, origin, csrf));
        Assert.True(await DisabledAsync(admin, "dave"));
    }

    /// <summary>Whether the admin's lists show <paramref name="user"/> disabled.</summary>
    private static async Task<bool> DisabledAsync(GatewayBrowser admin, string user)
    {
        using var panel = JsonDocument.Parse(await admin.Client.GetStringAsync(admin.GatewayUri("/dashboard/admin")));
        return panel.RootElement.GetProperty("users").EnumerateArray().Single(u => u.GetProperty("name").GetString() == user).GetProperty("disabled").GetBoolean();
    }

    [Fact]
    public async Task AnAdminRevokesATokenAndDisablesAnAgentFromTheDashboardAsTheCliWould()
    {
        var erin = await _fixture.AddUserAsync("erin");
        using var erinsPage = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        (await erinsPage.FollowAsync(await _fixture.DashboardLinkAsync(erin))).Response.Dispose();
        using var admin = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        (await admin.FollowAsync(await _fixture.DashboardLinkAsync(_fixture.Deployment.ClientEnvironment, admin: true))).Response.Dispose();
        var csrf = System.Text.RegularExpressions.Regex.Match(await admin.Client.GetStringAsync(admin.GatewayUri("/")), "name=\"jumpgate-csrf\" content=\"([0-9a-f]{64})\"").Groups[1].Value;
        using var panel = JsonDocument.Parse(await admin.Client.GetStringAsync(admin.GatewayUri("/dashboard/admin")));
        var erinsToken = panel.RootElement.GetProperty("tokens").EnumerateArray().Single(t => t.GetProperty("principal").GetString() == "erin").GetProperty("id").GetString()!;

        // Erin's page is open, signed in with the token the admin revokes: its event stream says so and ends.
        using (var events = await erinsPage.Client.GetAsync(erinsPage.GatewayUri("/dashboard/events"), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, events.StatusCode);
            Assert.Equal(HttpStatusCode.OK, await PostAsync(admin, $"https://localhost:{admin.Port}", csrf, $"revoke-token/{erinsToken}"));
            Assert.Contains("event: signedout", await events.Content.ReadAsStringAsync().WaitAsync(Signals.Timeout(20)), StringComparison.Ordinal);
        }
        using (var again = await erinsPage.Client.GetAsync(erinsPage.GatewayUri("/dashboard/events")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, await PostAsync(admin, $"https://localhost:{admin.Port}", csrf, "disable-agent/lab-a"));
        var gone = await FirstSnapshotAsync(admin, s => s.GetProperty("agents").GetArrayLength() == 0);
        Assert.False(gone.GetProperty("hosts")[0].GetProperty("online").GetBoolean());

        var audit = (await _fixture.Deployment.JumpgateAsync("gateway", "audit", "--event", "admin", "--json", "--dir", _fixture.Deployment.GatewayDir)).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).Where(e => e.GetProperty("admin").GetString() == "root").ToList();
        Assert.Equal([$"revoked token {erinsToken} of user erin", "disabled agent lab-a"], audit.Select(e => e.GetProperty("reason").GetString()));
    }

    /// <summary>The CSRF token a user's session would get, made as the gateway makes it; the user's page itself carries none.</summary>
    private static string Csrf(GatewayBrowser browser)
    {
        var cookie = browser.Cookies.GetCookies(browser.GatewayUri()).Single(c => c.Name == "__Host-jumpgate").Value;
        return Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(cookie), "jumpgate dashboard actions v1"u8));
    }

    private static async Task<HttpStatusCode> PostAsync(GatewayBrowser browser, string origin, string? csrf, string action = "disable-user/dave")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, browser.GatewayUri($"/dashboard/actions/{action}"));
        request.Headers.Add("Origin", origin);
        if (csrf is not null)
        {
            request.Headers.Add("X-Jumpgate-Csrf", csrf);
        }
        using var response = await browser.Client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>Reads the page's event stream until a snapshot passes <paramref name="wanted"/>; bounded in time.</summary>
    private static async Task<JsonElement> FirstSnapshotAsync(GatewayBrowser browser, Func<JsonElement, bool> wanted)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(20));
        using var response = await browser.Client.GetAsync(browser.GatewayUri("/dashboard/events"), HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(deadline.Token));
        var name = "";
        while (await reader.ReadLineAsync(deadline.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && name == "snapshot")
            {
                var snapshot = JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
                if (wanted(snapshot))
                {
                    return snapshot;
                }
            }
        }
        throw new InvalidOperationException("the event stream ended before the snapshot came");
    }

    private async Task UntilAsync(ChromiumPage page, string condition, string what)
    {
        if (!await Signals.UntilAsync(async () => await page.EvaluateAsync(condition) == "true", Signals.Timeout(20), TimeSpan.FromMilliseconds(100)))
        {
            output.WriteLine(await page.EvaluateAsync("document.body.innerText"));
            Assert.Fail($"waited 20 s for {what}");
        }
    }
}
