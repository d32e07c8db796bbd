using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>What a signed-in browser sees when the service's agent goes away, and when its access is revoked.</summary>
public sealed class HttpServiceLifecycleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private HttpFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await HttpFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task AnOfflineServiceAnswersAtOnceWithWhichHostAndAgentAndWhenItWasLastSeen()
    {
        await _fixture.SignInAsync();
        await _fixture.Deployment.Agent("lab-a").DisposeAsync();
        await _fixture.Deployment.Gateway!.WaitForLineAsync("agent lab-a disconnected", Signals.Timeout(30));

        var clock = Stopwatch.StartNew();
        using var response = await _fixture.Browser.Client.GetAsync(_fixture.Browser.ServiceUri(HttpFixture.Label, "/headers?offline"));
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Matches(@"host node1 is offline: agent lab-a last seen \d+ (ms|s) ago", page);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the offline page took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task RevokingTheUsersAccessClosesAnOpenWebSocketWithinFiveSeconds()
    {
        await _fixture.SignInAsync();
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", _fixture.Browser.ServiceUri(HttpFixture.Label).GetLeftPart(UriPartial.Authority));
        socket.Options.SetRequestHeader("Cookie", _fixture.Browser.CookieHeader(_fixture.Browser.ServiceUri(HttpFixture.Label)));
        using var invoker = new HttpMessageInvoker(_fixture.Browser.Handler, disposeHandler: false);
        await socket.ConnectAsync(new UriBuilder(_fixture.Browser.ServiceUri(HttpFixture.Label, "/ws")) { Scheme = "wss" }.Uri, invoker, CancellationToken.None);

        var revoke = await _fixture.Deployment.JumpgateAsync("gateway", "revoke", "researcher", "*", "--dir", _fixture.Deployment.GatewayDir);
        Assert.Equal(0, revoke.ExitCode);
        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        var closed = false;
        try
        {
            var received = await socket.ReceiveAsync(new byte[1024], deadline.Token);
            closed = received.MessageType == WebSocketMessageType.Close;
        }
        catch (WebSocketException)
        {
            closed = true;
        }

        output.WriteLine($"revoke command returned -> WebSocket closed: {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.True(closed);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"closed after {clock.Elapsed.TotalSeconds:0.0} s");
        using var after = await _fixture.Browser.Client.GetAsync(_fixture.Browser.ServiceUri(HttpFixture.Label, "/headers?after-revoke"));
        Assert.Equal(HttpStatusCode.Forbidden, after.StatusCode);
    }
}
