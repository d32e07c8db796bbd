using System.Net;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// Debian's Jupyter, started as people start it (loopback, its own token, XSRF and Origin checks
/// on), behind an agent that holds Jupyter's token; reached on its subdomain through the gateway.
/// </summary>
public sealed class JupyterThroughGatewayTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Label = "jupyter--node1";

    private JupyterServer _jupyter = null!;
    private Deployment _deployment = null!;
    private GatewayBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _jupyter = await JupyterServer.StartAsync(output);
        _deployment = await Deployment.StartAsync(output);
        var tokenFile = _deployment.Dir.File("jupyter.token");
        await File.WriteAllTextAsync(tokenFile, _jupyter.Token);
        await _deployment.AddAgentAsync("lab-a", "node*");
        await _deployment.StartAgentAsync("lab-a", $$"""
            node1:
              address: 127.0.0.1
              services:
                jupyter: { port: {{_jupyter.Port}}, http: true, token_file: {{tokenFile}} }
            """);
        _browser = new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint);
    }

    public async Task DisposeAsync()
    {
        _browser.Dispose();
        await _deployment.DisposeAsync();
        await _jupyter.DisposeAsync();
    }

    [Fact]
    public async Task ASignedInUserRunsCodeInAKernelOverItsWebSocket()
    {
        var (landing, _) = await _browser.FollowAsync(await OpenLinkAsync("/tree"));
        using (landing)
        {
            Assert.Equal(HttpStatusCode.OK, landing.StatusCode);
        }
        using var kernels = new JupyterKernelClient(_browser.ServiceUri(Label), _browser.Handler)
        {
            Origin = _browser.ServiceUri(Label).GetLeftPart(UriPartial.Authority),
        };

        var result = await kernels.RunAsync("6*7");

        Assert.Equal("42", result);
        Assert.True(_jupyter.SawRequest("/channels"), "the kernel's WebSocket never reached Jupyter");
    }

    [Fact]
    public async Task AJupyterTerminalRunsACommandOverItsWebSocket()
    {
        var (landing, _) = await _browser.FollowAsync(await OpenLinkAsync("/tree"));
        landing.Dispose();
        var origin = _browser.ServiceUri(Label).GetLeftPart(UriPartial.Authority);
        using var create = new HttpRequestMessage(HttpMethod.Post, _browser.ServiceUri(Label, "/api/terminals"));
        create.Headers.TryAddWithoutValidation("Origin", origin);
        using var created = await _browser.Client.SendAsync(create);
        created.EnsureSuccessStatusCode();
        using var json = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var name = json.RootElement.GetProperty("name").GetString()!;

        using var terminal = new System.Net.WebSockets.ClientWebSocket();
        terminal.Options.SetRequestHeader("Origin", origin);
        using var invoker = new HttpMessageInvoker(_browser.Handler, disposeHandler: false);
        using var deadline = new CancellationTokenSource(Signals.Timeout(60));
        await terminal.ConnectAsync(new UriBuilder(_browser.ServiceUri(Label, $"/terminals/websocket/{name}")) { Scheme = "wss" }.Uri, invoker, deadline.Token);
        // terminado's protocol: JSON arrays, ["stdin", text] in and ["stdout", text] out.
        await terminal.SendAsync(System.Text.Encoding.UTF8.GetBytes("[\"stdin\", \"echo jumpgate-$((6*7))\\r\"]"), System.Net.WebSockets.WebSocketMessageType.Text, true, deadline.Token);
        var screen = new System.Text.StringBuilder();
        var buffer = new byte[64 * 1024];
        while (!screen.ToString().Contains("jumpgate-42", StringComparison.Ordinal))
        {
            var received = await terminal.ReceiveAsync(buffer, deadline.Token);
            Assert.NotEqual(System.Net.WebSockets.WebSocketMessageType.Close, received.MessageType);
            screen.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, received.Count));
        }

        Assert.Contains("jumpgate-42", screen.ToString(), StringComparison.Ordinal);
        Assert.True(_jupyter.SawRequest($"/terminals/websocket/{name}"), "the terminal's WebSocket never reached Jupyter");
    }

    [Fact]
    public async Task UnauthenticatedAndUnauthorisedRequestsNeverReachJupyter()
    {
        using var anonymous = new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint);
        using var unsigned = await anonymous.Client.GetAsync(anonymous.ServiceUri(Label, "/api/kernels?unsigned-probe"));

        await _deployment.JumpgateAsync("gateway", "revoke", "@everyone", "*", "--dir", _deployment.GatewayDir);
        await _deployment.JumpgateAsync("gateway", "grant", "researcher", "lab-pc", "--dir", _deployment.GatewayDir);
        using var form = new FormUrlEncodedContent([new("token", _deployment.UserToken), new("to", anonymous.ServiceUri(Label, "/api/kernels?refused-probe").AbsoluteUri)]);
        using var signedIn = await anonymous.Client.PostAsync(anonymous.GatewayUri("/signin"), form);
        var (refused, _) = await anonymous.FollowAsync(new Uri(anonymous.GatewayUri(), signedIn.Headers.Location!));
        using (refused)
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        // A marker request Jupyter logs after anything sent before it: nothing refused can be still on its way.
        await _jupyter.SyncLogAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.False(_jupyter.SawRequest("unsigned-probe"), "an unauthenticated request reached Jupyter");
        Assert.False(_jupyter.SawRequest("refused-probe"), "a request the rules refuse reached Jupyter");
    }

    [Fact]
    public async Task ChromiumSignsInAndShowsJupytersTreePage()
    {
        await File.WriteAllTextAsync(Path.Combine(_jupyter.RootDir, "through-the-gateway.ipynb"),
            """{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}""");
        using var chromium = new Chromium(output, Chromium.SpkiHash(Path.Combine(_deployment.GatewayDir, "gateway.crt")));

        var dom = await chromium.DumpDomAsync(await OpenLinkAsync("/tree"));
        // The same profile keeps the subdomain's session cookie: the screenshot needs no second sign-in.
        var screenshot = await chromium.ScreenshotAsync(_browser.ServiceUri(Label, "/tree"), "jupyter-through-gateway.png", 1280, 800);

        Assert.Contains("id=\"notebook_list\"", dom, StringComparison.Ordinal);
        Assert.Contains("through-the-gateway.ipynb", dom, StringComparison.Ordinal);
        Assert.True(new FileInfo(screenshot).Length > 1000, screenshot);
    }

    [Fact]
    public async Task JupyterCommandOpensTheDeclaredServiceInsteadOfStartingOneOverSsh()
    {
        // No ssh config names node1.jg: the command must not need ssh at all.
        var result = await _deployment.JumpgateAsync("jupyter", "node1.jg", "--no-browser");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("node1's agent serves Jupyter as the HTTP service jupyter: opening it on the gateway (nothing started over ssh)", lines[0]);
        Assert.StartsWith($"https://{Label}.", lines[1]);
        var signIn = lines[2][(lines[2].IndexOf("https://", StringComparison.Ordinal))..];
        var (landing, visited) = await _browser.FollowAsync(new Uri(signIn));
        using (landing)
        {
            Assert.Equal(HttpStatusCode.OK, landing.StatusCode);
        }
        Assert.Equal($"{Label}.localhost", visited[^1].Host);
        await _jupyter.SyncLogAsync();
        Assert.True(_jupyter.SawRequest("/tree"), "the sign-in link did not land on Jupyter");

        // A service the host does not have is refused with the ones it has.
        var missing = await _deployment.JumpgateAsync("jupyter", "node1.jg", "--service", "tensorboard", "--no-browser");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("node1 has no HTTP service tensorboard (its HTTP services: jupyter)", missing.Stderr);
    }

    private Task<Uri> OpenLinkAsync(string next) => _deployment.OpenLinkAsync("node1", "jupyter", next);
}
