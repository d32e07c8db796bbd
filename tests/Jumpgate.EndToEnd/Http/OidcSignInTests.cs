using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// Sign-in with the lab's identity provider: a real OpenID Connect provider (oidc-provider under
/// Node), a real gateway configured with <c>oidc:</c>, an agent serving node1's web service, and
/// headless Chromium clicking "Sign in with …", signing in at the provider and landing on the service.
/// @lab may reach node1; nobody else may.
/// </summary>
public sealed class OidcSignInTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string ClientId = "jumpgate-gw";
    private const string ClientSecret = "test-client-secret-7f3a9c";

    private readonly TempDirectory _secrets = new("jg-oidc");
    private OidcTestProvider _provider = null!;
    private HttpUpstream _upstream = null!;
    private Deployment _deployment = null!;
    private int _port;

    private static readonly Dictionary<string, string[]> Users = new()
    {
        ["alice"] = ["lab"],
        ["mallory"] = ["visitors"],
        ["eve"] = ["lab"],
    };

    public async Task InitializeAsync()
    {
        _port = Sshd.FreePort();
        _provider = await OidcTestProvider.StartAsync(output, ClientId, ClientSecret, [$"https://localhost:{_port}/signin-oidc"], Users);
        _upstream = await HttpUpstream.StartAsync();
        _deployment = await StartGatewayAsync(_provider.Issuer, ClientSecret);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                web: {"{"} port: {_upstream.Port}, http: true {"}"}
            """);
        await AdminAsync("revoke", "@everyone", "*");
        await AdminAsync("grant", "@lab", "node1");
        // Known to the gateway, but not in @lab (the provider says so); eve is in @lab at the provider, but unknown here.
        await _deployment.AddUserAsync("alice");
        await _deployment.AddUserAsync("mallory");
    }

    private async Task<Deployment> StartGatewayAsync(Uri issuer, string secret, string extra = "")
    {
        var secretFile = _secrets.File($"client-secret-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(secretFile, secret + "\n");
        File.SetUnixFileMode(secretFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return await Deployment.StartAsync(output, listen: $"127.0.0.1:{_port}", gatewayYaml: $"""
            oidc:
              issuer: {issuer}
              client_id: {ClientId}
              client_secret_file: {secretFile}
              display_name: Lab SSO
              refresh_interval: 1s
              cli_session: 12s{extra}
            """);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _upstream.DisposeAsync();
        await _provider.DisposeAsync();
        _secrets.Dispose();
    }

    private Uri Service(string query) => new($"https://web--node1.localhost:{_port}/headers?{query}");

    /// <summary>From a service's URL to wherever the provider's sign-in as <paramref name="user"/> leads: the service, or the gateway's page saying why not.</summary>
    private async Task<(string Location, string Text)> SignInAsync(ChromiumPage page, Uri service, string user)
    {
        await page.NavigateAsync(service);
        await page.ActAndWaitForLoadAsync("document.getElementById('sso').click();");
        // The provider's own pages: its login form, then (the first time) its consent form.
        for (var step = 0; step < 4 && (await page.LocationAsync()).StartsWith(_provider.Issuer.AbsoluteUri, StringComparison.Ordinal); step++)
        {
            await page.ActAndWaitForLoadAsync($$"""
                (() => {
                  const login = document.querySelector('input[name=login]');
                  if (login) { login.value = '{{user}}'; document.querySelector('input[name=password]').value = 'any'; }
                  document.querySelector('form').submit();
                })();
                """);
        }
        return (await page.LocationAsync(), await page.EvaluateAsync("document.body.innerText"));
    }

    private Task<ChromiumPage> BrowserAsync() =>
        ChromiumPage.StartAsync(output, Chromium.SpkiHash(Path.Combine(_deployment.GatewayDir, "gateway.crt")));

    [Fact]
    public async Task ALabMemberSignsInWithTheProviderAndReachesTheService()
    {
        await using var page = await BrowserAsync();
        var service = Service("from-sso");

        var (landed, text) = await SignInAsync(page, service, "alice");

        Assert.Equal(service.AbsoluteUri, landed);
        Assert.Contains("/headers?from-sso", _upstream.Requests.Select(r => r.PathAndQuery));
        Assert.Contains("\"Host\"", text, StringComparison.Ordinal);
        var audit = await File.ReadAllTextAsync(Path.Combine(_deployment.GatewayDir, "audit.jsonl"));
        Assert.Contains("subject alice", audit, StringComparison.Ordinal);
        Assert.Contains("groups [lab]", audit, StringComparison.Ordinal);
        Assert.DoesNotContain(page.Messages, m => m.Contains("Content Security Policy", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALabMemberSignsInWithTheProviderAndReachesJupyterOnItsSubdomain()
    {
        await using var jupyter = await JupyterServer.StartAsync(output);
        var tokenFile = _deployment.Dir.File("jupyter.token");
        await File.WriteAllTextAsync(tokenFile, jupyter.Token);
        await _deployment.AddAgentAsync("lab-b", "gpu*");
        await _deployment.StartAgentAsync("lab-b", $$"""
            gpu1:
              address: 127.0.0.1
              services:
                jupyter: { port: {{jupyter.Port}}, http: true, token_file: {{tokenFile}} }
            """);
        await AdminAsync("grant", "@lab", "gpu1");
        await using var page = await BrowserAsync();
        var tree = new Uri($"https://jupyter--gpu1.localhost:{_port}/tree");

        var (landed, _) = await SignInAsync(page, tree, "alice");

        Assert.Equal(tree.AbsoluteUri, landed);
        Assert.True(jupyter.SawRequest("/tree"), string.Join('\n', jupyter.Requests));
        Assert.Equal("true", await page.EvaluateAsync("document.getElementById('notebook_list') !== null"));
    }

    [Fact]
    public async Task AUserOutsideTheGrantedGroupIsRefusedAndAnUnknownUserIsNotSignedIn()
    {
        await using var mallorys = await BrowserAsync();
        var (_, refused) = await SignInAsync(mallorys, Service("mallory"), "mallory");
        await using var eves = await BrowserAsync();
        var (eveLanded, eveText) = await SignInAsync(eves, Service("eve"), "eve");

        Assert.Contains("user mallory may not reach node1:web", refused, StringComparison.Ordinal);
        Assert.StartsWith($"https://localhost:{_port}/signin-oidc", eveLanded, StringComparison.Ordinal);
        Assert.Contains("user eve is not known to this gateway", eveText, StringComparison.Ordinal);
        Assert.DoesNotContain(_upstream.Requests, r => r.PathAndQuery.EndsWith("?mallory", StringComparison.Ordinal) || r.PathAndQuery.EndsWith("?eve", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheProviderEndsTheSessionAtTheNextRefresh()
    {
        await using var page = await BrowserAsync();
        var (landed, _) = await SignInAsync(page, Service("before"), "alice");
        Assert.Equal(Service("before").AbsoluteUri, landed);

        // The provider's admin takes alice out of lab: at the next refresh (each second here) her groups follow.
        await _provider.SetUsersAsync(new Dictionary<string, string[]> { ["alice"] = ["visitors"], ["mallory"] = ["visitors"] });
        var refused = await PollAsync(page, Service("after-group"), "user alice may not reach node1:web");
        // Then the provider forgets her: the refresh fails, and the sign-in ends (back to the sign-in page).
        await _provider.SetUsersAsync(new Dictionary<string, string[]> { ["mallory"] = ["visitors"] });
        var signedOut = await PollAsync(page, Service("after-removal"), "Sign in with Lab SSO");

        Assert.Contains("may not reach", refused, StringComparison.Ordinal);
        Assert.Contains("Sign in with Lab SSO", signedOut, StringComparison.Ordinal);
        var audit = await File.ReadAllTextAsync(Path.Combine(_deployment.GatewayDir, "audit.jsonl"));
        Assert.Contains("removed [lab]", audit, StringComparison.Ordinal);
        Assert.Contains("\"outcome\":\"ended\"", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongClientSecretIsAClearErrorAtSignIn()
    {
        await _deployment.DisposeAsync();
        _deployment = await StartGatewayAsync(_provider.Issuer, "not-the-secret");
        await _deployment.AddUserAsync("alice");
        await using var page = await BrowserAsync();

        var (_, text) = await SignInAsync(page, new Uri($"https://localhost:{_port}/"), "alice");

        Assert.Contains("refused this gateway's client credentials (invalid_client)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", _deployment.Gateway!.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachableIssuerLeavesTokenSignInWorkingAndSaysWhyAtTheButton()
    {
        await _deployment.DisposeAsync();
        var closed = Sshd.FreePort();
        _deployment = await StartGatewayAsync(new Uri($"http://127.0.0.1:{closed}/"), ClientSecret);
        using var browser = new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint);

        using var signInPage = await browser.Client.GetAsync(browser.GatewayUri("/signin"));
        using var button = await browser.Client.GetAsync(browser.GatewayUri("/signin/sso?to="));
        var why = await button.Content.ReadAsStringAsync();

        Assert.Contains("Sign in with Lab SSO", await signInPage.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.BadGateway, button.StatusCode);
        Assert.Contains($"the identity provider http://127.0.0.1:{closed}/ cannot be reached now", why, StringComparison.Ordinal);
        Assert.Contains("cannot be read now", _deployment.Gateway!.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCliSignsInWithTheDeviceFlowOnceTheCodeIsApproved()
    {
        var home = CliHome();
        var (exit, output) = await SignInTheCliAsync(home, "alice");
        var whoami = await ClientAsync(home, "ls");
        var saved = await File.ReadAllTextAsync(Path.Combine(home, "jumpgate", "config.json"));

        Assert.Equal(0, exit);
        Assert.Contains("as alice", output, StringComparison.Ordinal);
        Assert.True(whoami.ExitCode == 0, whoami.ToString());
        Assert.Contains("node1", whoami.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"sso_refresh_token\"", saved, StringComparison.Ordinal);
        Assert.Contains("\"token_expires\"", saved, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCliRenewsItsSessionByItselfOnceForCommandsStartedTogetherAndSaysToSignInAgainWhenItCannot()
    {
        var home = CliHome();
        Assert.Equal(0, (await SignInTheCliAsync(home, "alice")).ExitCode);
        var first = Saved(home);

        // Four commands at once when the token is due (ssh opening several connections): one renewal, all four served.
        await UntilAsync(() => DateTimeOffset.UtcNow >= first.Renews, "the token never came due");
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ClientAsync(home, "ls")));
        var second = Saved(home);
        // Past its expiry: `proxy`, which never asks the JSON API, renews it too before it opens its stream
        // (the request reaching the service is the proof: the upstream answers a half-closed request with nothing).
        await UntilAsync(() => DateTimeOffset.UtcNow > second.Expires, "the token never expired");
        var proxied = await ClientWithInputAsync(home, stdin: "GET /headers?through-proxy HTTP/1.0\r\n\r\n", "proxy", "node1", "web");
        var third = Saved(home);
        // The provider forgets alice: once the token is past its end, the CLI says what to do.
        await _provider.SetUsersAsync(new Dictionary<string, string[]> { ["mallory"] = ["visitors"] });
        await UntilAsync(() => DateTimeOffset.UtcNow > third.Expires, "the token never expired");
        var ended = await ClientAsync(home, "ls");

        Assert.All(together, result => Assert.True(result.ExitCode == 0 && result.Stdout.Contains("node1", StringComparison.Ordinal), result.ToString()));
        Assert.NotEqual(first.Token, second.Token);
        Assert.True(proxied.ExitCode == 0, proxied.ToString());
        Assert.Contains("/headers?through-proxy", _upstream.Requests.Select(r => r.PathAndQuery));
        Assert.NotEqual(second.Token, third.Token);
        var audit = await File.ReadAllLinesAsync(Path.Combine(_deployment.GatewayDir, "audit.jsonl"));
        Assert.Equal(2, audit.Count(line => line.Contains("CLI sign-in refreshed at the identity provider", StringComparison.Ordinal)));
        Assert.NotEqual(0, ended.ExitCode);
        Assert.Contains($"sign in again: jumpgate login {_deployment.GatewayUrl} --sso", ended.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", ended.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARestartedGatewayGoesOnRefreshingTheSignInsMadeBeforeIt()
    {
        var home = CliHome();
        Assert.Equal(0, (await SignInTheCliAsync(home, "alice")).ExitCode);
        await using var page = await BrowserAsync();
        Assert.Equal(Service("before").AbsoluteUri, (await SignInAsync(page, Service("before"), "alice")).Location);
        var before = Saved(home);

        await _deployment.Gateway!.DisposeAsync();
        await _deployment.StartGatewayAsync();
        // The CLI renews through the new process (the refresh token is the CLI's to keep).
        await UntilAsync(() => DateTimeOffset.UtcNow >= before.Renews, "the token never came due");
        var listed = await ClientAsync(home, "ls");
        // The browser's sign-in is still asked about: the provider takes alice out of lab, and at the next refresh she follows.
        await _provider.SetUsersAsync(new Dictionary<string, string[]> { ["alice"] = ["visitors"], ["mallory"] = ["visitors"] });
        var refused = await PollAsync(page, Service("after-restart"), "user alice may not reach node1:web");

        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.NotEqual(before.Token, Saved(home).Token);
        Assert.Contains("may not reach", refused, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABurstOfDeviceSignInStartsIsThrottledWithRetryAfter()
    {
        using var browser = new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint);
        var statuses = new List<System.Net.HttpStatusCode>();
        HttpResponseMessage? limited = null;
        // The default burst is 10 (access.auth_failure_burst); 20 starts are enough to pass it and bounded.
        for (var i = 0; i < 20 && limited is null; i++)
        {
            var response = await browser.Client.PostAsync(browser.GatewayUri("/api/sso/device"), new FormUrlEncodedContent([]));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                response.Dispose();
            }
        }
        using var poll = await browser.Client.PostAsync(browser.GatewayUri("/api/sso/token"), new FormUrlEncodedContent([new("device_code", "made-up")]));

        Assert.NotNull(limited);
        Assert.All(statuses[..^1], status => Assert.Equal(System.Net.HttpStatusCode.OK, status));
        Assert.Equal(11, statuses.Count);
        Assert.True(limited.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, limited.Headers.ToString());
        Assert.Matches("too many sign-in requests from [^;]+; try again in [0-9]+ s", await limited.Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, poll.StatusCode);
        limited.Dispose();
    }

    private string CliHome()
    {
        var home = _secrets.File($"cli-home-{Guid.NewGuid():N}");
        Directory.CreateDirectory(home);
        return home;
    }

    private Task<CommandResult> ClientAsync(string home, params string[] arguments) => ClientWithInputAsync(home, stdin: null, arguments);

    private Task<CommandResult> ClientWithInputAsync(string home, string? stdin, params string[] arguments) =>
        Command.RunAsync(TestSupport.Jumpgate.Executable, arguments, Signals.Timeout(30), new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = home }, stdin, output);

    /// <summary>The token the CLI saved, and when it is renewed and expires.</summary>
    private static (string Token, DateTimeOffset Renews, DateTimeOffset Expires) Saved(string home)
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(home, "jumpgate", "config.json")));
        var root = json.RootElement;
        return (root.GetProperty("token").GetString()!, root.GetProperty("token_renews").GetDateTimeOffset(), root.GetProperty("token_expires").GetDateTimeOffset());
    }

    private static async Task UntilAsync(Func<bool> condition, string failure) =>
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(condition()), Signals.Timeout(30), TimeSpan.FromMilliseconds(100)), failure);

    /// <summary>`jumpgate login --sso` as <paramref name="user"/>, the person confirming the code in Chromium at the provider.</summary>
    private async Task<(int ExitCode, string Output)> SignInTheCliAsync(string home, string user)
    {
        await using var login = ChildProcess.Start("login --sso", TestSupport.Jumpgate.Executable,
            ["login", _deployment.GatewayUrl, "--sso", "--fingerprint", _deployment.Fingerprint], output,
            new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = home });
        var prompt = await login.WaitForLineAsync(@"open (\S+) and confirm the code (\S+)", Signals.Timeout(60));

        // The person: opens the provider's page, confirms the code, signs in and consents.
        await using var page = await BrowserAsync();
        await page.NavigateAsync(new Uri(prompt.Groups[1].Value));
        for (var step = 0; step < 5 && !(await page.EvaluateAsync("document.body.innerText")).Contains("Sign-in Success", StringComparison.OrdinalIgnoreCase); step++)
        {
            await page.ActAndWaitForLoadAsync($$"""
                (() => {
                  const login = document.querySelector('input[name=login]');
                  if (login) { login.value = '{{user}}'; document.querySelector('input[name=password]').value = 'any'; }
                  const form = document.querySelector('form');
                  const button = form.querySelector('button[type=submit]:not([name=abort])') || form.querySelector('button');
                  button ? button.click() : form.submit();
                })();
                """);
        }
        var exit = await login.Exited.WaitAsync(Signals.Timeout(60));
        return (exit, login.Output);
    }

    private static async Task<string> PollAsync(ChromiumPage page, Uri url, string expected)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(60));
        var text = "";
        while (!deadline.IsCancellationRequested)
        {
            await page.NavigateAsync(url, deadline.Token);
            text = await page.EvaluateAsync("document.body.innerText", deadline.Token);
            if (text.Contains(expected, StringComparison.Ordinal))
            {
                return text;
            }
            // One page load per round trip: the refresher runs each second, a load takes about as long.
        }
        throw new TimeoutException($"'{expected}' never appeared at {url}; last page: {text}");
    }

    private async Task AdminAsync(params string[] arguments)
    {
        var result = await _deployment.JumpgateAsync(["gateway", .. arguments, "--dir", _deployment.GatewayDir]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
