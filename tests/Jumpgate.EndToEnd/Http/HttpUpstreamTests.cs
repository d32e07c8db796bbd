using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.EndToEnd.Http;

/// <summary>The upstream that HTTP proxy tests put behind the gateway, checked on its own first.</summary>
public sealed class HttpUpstreamTests : IAsyncLifetime
{
    private HttpUpstream _upstream = null!;
    private readonly HttpClient _http = new() { Timeout = Signals.Timeout(60) };

    public async Task InitializeAsync() => _upstream = await HttpUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task UploadHashesAStreamedBodyOfAnyLength()
    {
        const long size = 100L * 1024 * 1024 + 3;
        using var content = new StreamContent(new DeterministicStream(size, seed: 7));

        using var response = await _http.PutAsync(new Uri(_upstream.BaseUri, "upload"), content);

        response.EnsureSuccessStatusCode();
        var (bytes, sha256) = HttpUpstream.ParseUploadResult(await response.Content.ReadAsStringAsync());
        Assert.Equal(size, bytes);
        Assert.Equal(DeterministicBytes.Sha256(size, seed: 7), sha256);
    }

    [Fact]
    public async Task DownloadServesTheDeterministicBytes()
    {
        const long size = 10L * 1024 * 1024 + 5;

        using var response = await _http.GetAsync(new Uri(_upstream.BaseUri, $"download?bytes={size}&seed=3"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(body));

        Assert.Equal(size, response.Content.Headers.ContentLength);
        Assert.Equal(DeterministicBytes.Sha256(size, seed: 3), sha256);
        Assert.NotEqual(DeterministicBytes.Sha256(size, seed: 4), sha256);
    }

    [Fact]
    public async Task HeadersAreMirroredAndEveryRequestIsRecorded()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_upstream.BaseUri, "headers?x=1"));
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "jupyter--node1.gw.localhost");
        request.Headers.TryAddWithoutValidation("Cookie", "a=b");

        using var response = await _http.SendAsync(request);
        using var mirrored = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        using var missing = await _http.GetAsync(new Uri(_upstream.BaseUri, "nothing-here"));

        var headers = mirrored.RootElement.GetProperty("headers");
        Assert.Equal("jupyter--node1.gw.localhost", headers.GetProperty("X-Forwarded-Host").GetString());
        Assert.Equal("a=b", headers.GetProperty("Cookie").GetString());
        Assert.Equal($"127.0.0.1:{_upstream.Port}", headers.GetProperty("Host").GetString());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(["/headers?x=1", "/nothing-here"], _upstream.Requests.Select(r => r.PathAndQuery));
        Assert.Equal("a=b", _upstream.Requests[0].Headers["cookie"]);
        Assert.False(_upstream.SawRequest("/upload"));
    }

    [Fact]
    public async Task StreamFlushesEachEventAsItHappens()
    {
        // The second event is a minute away: reading the first one now shows nothing buffers the response.
        using var cancel = new CancellationTokenSource(Signals.Timeout(30));
        using var response = await _http.GetAsync(new Uri(_upstream.BaseUri, "stream?events=2&interval_ms=60000"), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        var first = await reader.ReadLineAsync(cancel.Token);

        Assert.Equal("event 0", first);
        Assert.Null(response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task WebSocketEchoKeepsMessageBoundariesAndAnswersClose()
    {
        using var cancel = new CancellationTokenSource(Signals.Timeout(30));
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("v1.kernel.websocket.jupyter.org");
        var uri = new UriBuilder(new Uri(_upstream.BaseUri, "ws")) { Scheme = "ws" }.Uri;
        await socket.ConnectAsync(uri, cancel.Token);

        await socket.SendAsync(Encoding.UTF8.GetBytes("hel"), WebSocketMessageType.Text, endOfMessage: false, cancel.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("lo"), WebSocketMessageType.Text, endOfMessage: true, cancel.Token);
        var binary = RandomNumberGenerator.GetBytes(200_000);
        await socket.SendAsync(binary, WebSocketMessageType.Binary, endOfMessage: true, cancel.Token);

        var text = await ReceiveMessageAsync(socket, cancel.Token);
        var echoed = await ReceiveMessageAsync(socket, cancel.Token);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cancel.Token);

        Assert.Equal("v1.kernel.websocket.jupyter.org", socket.SubProtocol);
        Assert.Equal((WebSocketMessageType.Text, "hello"), (text.Type, Encoding.UTF8.GetString(text.Payload)));
        Assert.Equal(WebSocketMessageType.Binary, echoed.Type);
        Assert.Equal(binary, echoed.Payload);
        Assert.Equal(WebSocketState.Closed, socket.State);
        Assert.Equal("bye", socket.CloseStatusDescription);
    }

    [Fact]
    public async Task WebSocketToALocalhostSubdomainOverHttpsGoesThroughTheCallersHandler()
    {
        // The shape a gateway test uses: its own handler trusts one self-signed certificate and dials
        // loopback for a *.localhost name, and the WebSocket handshake goes through that handler.
        using var certificate = SelfSignedCertificate.Create("gw.localhost", "*.gw.localhost");
        await using var https = await HttpUpstream.StartAsync(certificate);
        using var handler = LoopbackHttpHandler.Create(trusted: certificate);
        using var invoker = new HttpMessageInvoker(handler);
        using var cancel = new CancellationTokenSource(Signals.Timeout(30));
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "https://jupyter--node1.gw.localhost");
        socket.Options.SetRequestHeader("Cookie", "jumpgate_session=abc");

        await socket.ConnectAsync(new Uri($"wss://jupyter--node1.gw.localhost:{https.Port}/ws"), invoker, cancel.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("over tls"), WebSocketMessageType.Text, endOfMessage: true, cancel.Token);
        var echoed = await ReceiveMessageAsync(socket, cancel.Token);

        Assert.Equal("over tls", Encoding.UTF8.GetString(echoed.Payload));
        var handshake = Assert.Single(https.Requests);
        Assert.Equal(("https://jupyter--node1.gw.localhost", "jumpgate_session=abc"), (handshake.Headers["Origin"], handshake.Headers["Cookie"]));
    }

    private static async Task<(WebSocketMessageType Type, byte[] Payload)> ReceiveMessageAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        using var message = new MemoryStream();
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, cancellationToken);
            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage)
            {
                return (received.MessageType, message.ToArray());
            }
        }
    }
}
