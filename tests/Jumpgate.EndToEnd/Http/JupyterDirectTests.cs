using System.Net;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// The test peers for HTTP services, against Debian's Jupyter with no gateway in between: the
/// kernel client works, and Jupyter's own checks (Host, Origin, XSRF) are what the gateway's
/// proxy has to satisfy.
/// </summary>
public sealed class JupyterDirectTests(ITestOutputHelper output) : IAsyncLifetime
{
    private JupyterServer _jupyter = null!;

    public async Task InitializeAsync() => _jupyter = await JupyterServer.StartAsync(output);

    public async Task DisposeAsync() => await _jupyter.DisposeAsync();

    [Fact]
    public async Task KernelEvaluatesCodeWithJupytersToken()
    {
        using var client = new JupyterKernelClient(_jupyter.BaseUrl) { Token = _jupyter.Token };

        var result = await client.RunAsync("6*7");

        Assert.Equal("42", result);
        Assert.True(_jupyter.SawRequest("/api/kernels"), string.Join('\n', _jupyter.Requests));
    }

    [Fact]
    public async Task KernelReportsPrintedOutputAndErrors()
    {
        using var client = new JupyterKernelClient(_jupyter.BaseUrl) { Token = _jupyter.Token };
        using var cancel = new CancellationTokenSource(Signals.Timeout(60));
        var kernel = await client.StartKernelAsync(cancel.Token);
        try
        {
            var printed = await client.ExecuteAsync(kernel, "print('hello from the kernel')", cancel.Token);
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => client.ExecuteAsync(kernel, "1/0", cancel.Token));

            Assert.Null(printed.Result);
            Assert.Equal("hello from the kernel\n", printed.Stdout);
            Assert.Contains("ZeroDivisionError", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            await client.DeleteKernelAsync(kernel, cancel.Token);
        }
    }

    [Fact]
    public async Task BrowserStyleSessionCookieWorksWithXsrfAndAMatchingOrigin()
    {
        var cookie = await LogInAsync();
        using var client = new JupyterKernelClient(_jupyter.BaseUrl) { Cookie = cookie, Origin = Origin(_jupyter.BaseUrl) };

        Assert.Equal("42", await client.RunAsync("6*7"));
    }

    [Fact]
    public async Task RefusesCrossOriginRequestsWithoutItsToken()
    {
        // A proxy that passes the browser's Origin (https://jupyter--node1.gw…) on to Jupyter, whose
        // Host is 127.0.0.1, gets these answers unless it rewrites one of them or adds Jupyter's token.
        const string foreign = "https://jupyter--node1.gw.localhost:5443";
        var cookie = await LogInAsync();
        using var browser = new JupyterKernelClient(_jupyter.BaseUrl) { Cookie = cookie, Origin = foreign };
        using var owner = new JupyterKernelClient(_jupyter.BaseUrl) { Token = _jupyter.Token };
        using var cancel = new CancellationTokenSource(Signals.Timeout(60));

        var api = await Assert.ThrowsAsync<HttpRequestException>(() => browser.StartKernelAsync(cancel.Token));
        var kernel = await owner.StartKernelAsync(cancel.Token);
        try
        {
            var webSocket = await Assert.ThrowsAsync<HttpRequestException>(() => browser.ConnectAsync(kernel, cancel.Token));

            // The REST API hides itself (404); the WebSocket handshake is refused outright (403).
            Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, webSocket.StatusCode);
            Assert.Contains(_jupyter.Lines, l => l.Contains($"Blocking Cross Origin API request for /api/kernels.  Origin: {foreign}", StringComparison.Ordinal));
            Assert.Contains(_jupyter.Lines, l => l.Contains($"Blocking Cross Origin WebSocket Attempt.  Origin: {foreign}", StringComparison.Ordinal));
        }
        finally
        {
            await owner.DeleteKernelAsync(kernel, cancel.Token);
        }
    }

    [Fact]
    public async Task RefusesANonLoopbackHostHeaderEvenWithItsToken()
    {
        // Remote access is off by default: a proxy must send Host 127.0.0.1:port (or localhost), not the public name.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_jupyter.BaseUrl, "api/kernels"));
        request.Headers.Host = "jupyter--node1.gw.localhost";
        request.Headers.TryAddWithoutValidation("Authorization", $"token {_jupyter.Token}");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains(_jupyter.Lines, l => l.Contains("Blocking request with non-local 'Host' jupyter--node1.gw.localhost", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RequestLogShowsWhatReachedJupyterAndWhatDidNot()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(_jupyter.BaseUrl, "api/status?probe=reached"));

        await _jupyter.SyncLogAsync();

        var reached = Assert.Single(_jupyter.Requests, r => r.Uri.Contains("probe=reached", StringComparison.Ordinal));
        Assert.Equal(("GET", 403), (reached.Method, reached.Status));
        Assert.False(_jupyter.SawRequest("probe=never"));
    }

    /// <summary>Jupyter's login form takes its token as the password and answers with a session cookie, as a browser sees it.</summary>
    private async Task<string> LogInAsync()
    {
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() };
        using var http = new HttpClient(handler) { Timeout = Signals.Timeout(30) };
        using (var form = await http.GetAsync(new Uri(_jupyter.BaseUrl, "login")))
        {
            form.EnsureSuccessStatusCode();
        }
        var xsrf = handler.CookieContainer.GetCookies(_jupyter.BaseUrl)["_xsrf"]?.Value ?? throw new InvalidOperationException("no _xsrf cookie from /login");
        using var login = await http.PostAsync(new Uri(_jupyter.BaseUrl, "login"),
            new FormUrlEncodedContent(new Dictionary<string, string> { ["_xsrf"] = xsrf, ["password"] = _jupyter.Token }));
        Assert.Equal(HttpStatusCode.Found, login.StatusCode);
        var session = handler.CookieContainer.GetCookies(_jupyter.BaseUrl).Single(c => c.Name.StartsWith("username-", StringComparison.Ordinal));
        return $"{session.Name}={session.Value}";
    }

    private static string Origin(Uri uri) => uri.GetLeftPart(UriPartial.Authority);
}
