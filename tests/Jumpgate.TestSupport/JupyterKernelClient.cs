using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Jumpgate.TestSupport;

/// <summary>What a kernel answered to one <c>execute_request</c>.</summary>
/// <param name="Result">The <c>text/plain</c> of the <c>execute_result</c> (<c>"42"</c> for <c>6*7</c>); null when the code had no value.</param>
/// <param name="Stdout">What the code printed.</param>
public sealed record KernelExecution(string? Result, string Stdout);

/// <summary>
/// Drives a Jupyter kernel the way the notebook page does: <c>POST /api/kernels</c>, the kernel's
/// WebSocket <c>/api/kernels/{id}/channels</c>, an <c>execute_request</c> in Jupyter's message
/// protocol (v5, JSON frames), then <c>DELETE</c>. Point it straight at Jupyter with its token, or at
/// the gateway's subdomain with a session cookie and no token (the gateway adds what Jupyter needs).
/// </summary>
/// <remarks>
/// Jupyter's rules this client meets: a request with <c>Authorization: token …</c> skips the XSRF
/// and Origin checks; without one, a POST needs the <c>_xsrf</c> cookie echoed in <c>X-XSRFToken</c>
/// (fetched from <c>/tree</c> first), and a WebSocket whose Origin is not its Host is refused.
/// A failed HTTP step throws <see cref="HttpRequestException"/> carrying the status code, so a test
/// can assert the gateway's refusal (302 to its login, 403) rather than a generic failure.
/// </remarks>
public sealed class JupyterKernelClient : IDisposable
{
    private readonly Uri _baseUri;
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpClient _http;
    private string? _xsrf;

    /// <param name="baseUri">Jupyter's root, e.g. <c>http://127.0.0.1:8888/</c> or <c>https://jupyter--node1.gw.localhost:5443/</c>.</param>
    /// <param name="handler">
    /// The handler to send through (the caller keeps ownership): where a test trusts the gateway's
    /// self-signed certificate (see <see cref="LoopbackHttpHandler"/>). The WebSocket goes through it too.
    /// Null: <see cref="LoopbackHttpHandler.Create"/>'s default, which follows no redirects, so a
    /// redirect to a login page surfaces as a 302.
    /// </param>
    public JupyterKernelClient(Uri baseUri, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(baseUri);
        _baseUri = baseUri.AbsoluteUri.EndsWith('/') ? baseUri : new Uri(baseUri.AbsoluteUri + "/");
        var owned = handler is null;
        handler ??= LoopbackHttpHandler.Create();
        _invoker = new HttpMessageInvoker(handler, disposeHandler: owned);
        _http = new HttpClient(handler, disposeHandler: false) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    /// <summary>Jupyter's own token, sent as <c>Authorization: token …</c>. Null through the gateway.</summary>
    public string? Token { get; init; }

    /// <summary>A Cookie header to send on every request, e.g. the gateway's session cookie.</summary>
    public string? Cookie { get; init; }

    /// <summary>An Origin header to send, as a browser on the page would (<c>https://jupyter--node1.gw.localhost:5443</c>).</summary>
    public string? Origin { get; init; }

    /// <summary>Any other headers to send on every request and the WebSocket handshake.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>The bound on each whole operation; a kernel's first start on a busy 2-core machine takes seconds.</summary>
    public TimeSpan Timeout { get; init; } = Signals.Timeout(60);

    /// <summary>Starts a kernel, runs <paramref name="code"/> in it, deletes it, and returns the <c>text/plain</c> result.</summary>
    public async Task<string?> RunAsync(string code, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        var kernelId = await StartKernelAsync(deadline.Token);
        try
        {
            return (await ExecuteAsync(kernelId, code, deadline.Token)).Result;
        }
        finally
        {
            // Clean up even when the run failed or timed out, with a fresh bound of its own.
            using var cleanup = new CancellationTokenSource(Signals.Timeout(30));
            await DeleteKernelAsync(kernelId, cleanup.Token);
        }
    }

    /// <summary><c>POST /api/kernels</c>: starts the default kernel and returns its id.</summary>
    public async Task<string> StartKernelAsync(CancellationToken cancellationToken)
    {
        using var request = await CreateRequestAsync(HttpMethod.Post, "api/kernels", cancellationToken);
        request.Content = JsonContent.Create(new { });
        using var response = await SendAsync(request, "start a kernel", cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
        return body?["id"]?.GetValue<string>() ?? throw new InvalidOperationException("POST /api/kernels answered without an id");
    }

    /// <summary><c>DELETE /api/kernels/{id}</c>.</summary>
    public async Task DeleteKernelAsync(string kernelId, CancellationToken cancellationToken)
    {
        using var request = await CreateRequestAsync(HttpMethod.Delete, $"api/kernels/{Uri.EscapeDataString(kernelId)}", cancellationToken);
        using var response = await SendAsync(request, $"delete kernel {kernelId}", cancellationToken);
    }

    /// <summary>Opens the kernel's channels WebSocket with the configured headers.</summary>
    public async Task<ClientWebSocket> ConnectAsync(string kernelId, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        // The handshake's status code is what a refused upgrade (403 from Jupyter, 302 from the gateway) tells us.
        socket.Options.CollectHttpResponseDetails = true;
        foreach (var (name, value) in RequestHeaders())
        {
            socket.Options.SetRequestHeader(name, value);
        }
        var scheme = _baseUri.Scheme == Uri.UriSchemeHttps ? "wss" : "ws";
        var uri = new UriBuilder(new Uri(_baseUri, $"api/kernels/{Uri.EscapeDataString(kernelId)}/channels")) { Scheme = scheme }.Uri;
        try
        {
            await socket.ConnectAsync(uri, _invoker, cancellationToken);
            return socket;
        }
        catch (WebSocketException e)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            throw new HttpRequestException($"WebSocket {uri} was refused: HTTP {(int)status} ({e.Message})", e, status);
        }
    }

    /// <summary>Runs <paramref name="code"/> in a started kernel and collects its result and printed output.</summary>
    public async Task<KernelExecution> ExecuteAsync(string kernelId, string code, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(kernelId, cancellationToken);
        var session = Guid.NewGuid().ToString("N");
        var msgId = Guid.NewGuid().ToString("N");
        var request = new JsonObject
        {
            ["header"] = new JsonObject
            {
                ["msg_id"] = msgId,
                ["session"] = session,
                ["username"] = "jumpgate-test",
                ["msg_type"] = "execute_request",
                ["version"] = "5.3",
                ["date"] = DateTime.UtcNow.ToString("O"),
            },
            ["parent_header"] = new JsonObject(),
            ["metadata"] = new JsonObject(),
            ["content"] = new JsonObject
            {
                ["code"] = code,
                ["silent"] = false,
                ["store_history"] = false,
                ["user_expressions"] = new JsonObject(),
                ["allow_stdin"] = false,
                ["stop_on_error"] = true,
            },
            ["channel"] = "shell",
            ["buffers"] = new JsonArray(),
        };
        await socket.SendAsync(Encoding.UTF8.GetBytes(request.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

        // Replies come on two channels in no fixed order: the shell's execute_reply, and on iopub the
        // result, any output, and finally status "idle". The run is over when both ends have arrived.
        string? result = null;
        var stdout = new StringBuilder();
        var replied = false;
        var idle = false;
        // Bounded by count as well as by the token: a kernel chattering forever must not hold the test.
        for (var messages = 0; messages < 10_000 && !(replied && idle); messages++)
        {
            var text = await ReceiveTextAsync(socket, cancellationToken);
            if (text is null)
            {
                throw new InvalidOperationException($"kernel {kernelId}'s WebSocket closed before the execution finished (close status {socket.CloseStatus})");
            }
            var message = JsonNode.Parse(text)!.AsObject();
            if (message["parent_header"]?["msg_id"]?.GetValue<string>() != msgId)
            {
                continue;
            }
            var content = message["content"]?.AsObject() ?? [];
            switch (message["header"]?["msg_type"]?.GetValue<string>())
            {
                case "execute_result":
                    result = Text(content["data"]?["text/plain"]);
                    break;
                case "stream" when Text(content["name"]) == "stdout":
                    stdout.Append(Text(content["text"]));
                    break;
                case "error":
                    throw new InvalidOperationException($"kernel raised {Text(content["ename"])}: {Text(content["evalue"])}");
                case "execute_reply":
                    replied = true;
                    break;
                case "status" when Text(content["execution_state"]) == "idle":
                    idle = true;
                    break;
            }
        }
        if (!(replied && idle))
        {
            throw new InvalidOperationException($"kernel {kernelId} sent 10000 messages without finishing the execution");
        }
        await CloseQuietlyAsync(socket);
        return new KernelExecution(result, stdout.ToString());
    }

    private static string? Text(JsonNode? node) => node?.GetValue<string>();

    private static async Task<string?> ReceiveTextAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, cancellationToken);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }
            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage)
            {
                return Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
            }
        }
    }

    private static async Task CloseQuietlyAsync(ClientWebSocket socket)
    {
        using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", closing.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The result is in hand; a peer that does not finish the close handshake changes nothing.
        }
    }

    private async Task<HttpRequestMessage> CreateRequestAsync(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        if (Token is null && method != HttpMethod.Get && _xsrf is null)
        {
            _xsrf = await FetchXsrfCookieAsync(cancellationToken);
        }
        var request = new HttpRequestMessage(method, new Uri(_baseUri, path));
        foreach (var (name, value) in RequestHeaders())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (Token is null && _xsrf is not null)
        {
            request.Headers.TryAddWithoutValidation("X-XSRFToken", _xsrf);
        }
        return request;
    }

    private IEnumerable<(string Name, string Value)> RequestHeaders()
    {
        if (Token is not null)
        {
            yield return ("Authorization", $"token {Token}");
        }
        var cookie = string.Join("; ", new[] { Cookie, _xsrf is null ? null : $"_xsrf={_xsrf}" }.Where(c => !string.IsNullOrEmpty(c)));
        if (cookie.Length > 0)
        {
            yield return ("Cookie", cookie);
        }
        if (Origin is not null)
        {
            yield return ("Origin", Origin);
        }
        foreach (var (name, value) in Headers)
        {
            yield return (name, value);
        }
    }

    /// <summary>
    /// Jupyter sets its <c>_xsrf</c> cookie when it renders a page; the notebook page echoes it in
    /// <c>X-XSRFToken</c>, so a cookie-authenticated POST does the same.
    /// </summary>
    private async Task<string?> FetchXsrfCookieAsync(CancellationToken cancellationToken)
    {
        using var request = await CreateRequestAsync(HttpMethod.Get, "tree", cancellationToken);
        using var response = await SendAsync(request, "fetch the _xsrf cookie from /tree", cancellationToken);
        if (!response.Headers.TryGetValues("Set-Cookie", out var cookies))
        {
            return null;
        }
        return cookies.Select(c => c.Split(';')[0].Split('=', 2))
            .Where(p => p.Length == 2 && p[0].Trim() == "_xsrf")
            .Select(p => p[1].Trim())
            .FirstOrDefault();
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        var response = await _http.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var location = response.Headers.Location is { } to ? $" (Location: {to})" : "";
            throw new HttpRequestException(
                $"{request.Method} {request.RequestUri} to {what} answered {(int)response.StatusCode} {response.StatusCode}{location}: {Truncate(body, 300)}",
                null, response.StatusCode);
        }
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    public void Dispose()
    {
        _http.Dispose();
        _invoker.Dispose();
    }
}
