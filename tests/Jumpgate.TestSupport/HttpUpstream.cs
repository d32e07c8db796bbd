using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Jumpgate.TestSupport;

/// <summary>One request as it reached <see cref="HttpUpstream"/>.</summary>
public sealed record UpstreamRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// A real HTTP/1.1 server on a loopback port for proxy tests (Kestrel, in process): streaming
/// upload and download, a header mirror, a slow event stream and a WebSocket echo. It records
/// every request that arrived, so a test can show that a refused request never got here.
/// </summary>
/// <remarks>
/// Endpoints: <c>PUT|POST /upload</c> → <c>{"bytes":N,"sha256":"hex"}</c>;
/// <c>GET /download?bytes=N&amp;seed=S</c> → N bytes of <see cref="DeterministicBytes"/>;
/// <c>GET /headers</c> → the request's method, path and headers as JSON;
/// <c>GET /cookies?set=V&amp;set=V2</c> → one <c>Set-Cookie: V</c> line per value, as given;
/// <c>GET /stream?events=N&amp;interval_ms=M</c> → <c>event i</c> lines, each flushed on its own;
/// <c>/ws</c> → WebSocket echo (text and binary, message boundaries kept, close answered).
/// Anything else is 404, and recorded too.
/// </remarks>
public sealed class HttpUpstream : IAsyncDisposable
{
    /// <summary>The most events one <c>/stream</c> request may ask for: a typo must not hold a test for hours.</summary>
    public const int MaxStreamEvents = 100_000;

    private readonly WebApplication _app;
    private readonly List<UpstreamRequest> _requests = [];
    private readonly Lock _gate = new();

    private HttpUpstream(WebApplication app, bool https)
    {
        _app = app;
        Scheme = https ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
    }

    public int Port { get; private set; }

    /// <summary><c>http</c>, or <c>https</c> when started with a certificate.</summary>
    public string Scheme { get; }

    /// <summary><c>http://127.0.0.1:port/</c> (or https).</summary>
    public Uri BaseUri => new($"{Scheme}://127.0.0.1:{Port}/");

    /// <summary>Every request that reached the server, in arrival order.</summary>
    public IReadOnlyList<UpstreamRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Whether any request whose path and query contain <paramref name="pathFragment"/> arrived.</summary>
    public bool SawRequest(string pathFragment) =>
        Requests.Any(r => r.PathAndQuery.Contains(pathFragment, StringComparison.Ordinal));

    /// <param name="certificate">Serve HTTPS with this certificate (a browser test's page); null for plain HTTP, as Jupyter serves.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<HttpUpstream> StartAsync(X509Certificate2? certificate = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        // Nothing from appsettings or the environment, and no file watchers.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Uploads of several gigabytes are the point; Kestrel's 30 MB default would cut them off.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        var app = builder.Build();
        var upstream = new HttpUpstream(app, certificate is not null);
        app.Use(upstream.RecordAsync);
        app.UseWebSockets();
        app.Run(upstream.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        upstream.Port = new Uri(address).Port;
        return upstream;
    }

    private Task RecordAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new UpstreamRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, headers);
        lock (_gate)
        {
            _requests.Add(request);
        }
        return next(context);
    }

    private Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        return (request.Method, request.Path.Value) switch
        {
            ("PUT" or "POST", "/upload") => UploadAsync(context),
            ("GET", "/download") => DownloadAsync(context),
            ("GET", "/headers") => HeadersAsync(context),
            ("GET", "/cookies") => SetCookiesAsync(context),
            ("GET", "/stream") => StreamAsync(context),
            (_, "/ws") when context.WebSockets.IsWebSocketRequest => EchoWebSocketAsync(context),
            _ => NotFoundAsync(context),
        };
    }

    private static async Task UploadAsync(HttpContext context)
    {
        // Read the body as it comes, never all at once: a proxy that buffers would show up as memory, not here.
        context.Features.GetRequiredFeature<IHttpMaxRequestBodySizeFeature>().MaxRequestBodySize = null;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[DeterministicBytes.BlockSize];
        long total = 0;
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
        }
        await context.Response.WriteAsJsonAsync(new { bytes = total, sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()) }, context.RequestAborted);
    }

    private static async Task DownloadAsync(HttpContext context)
    {
        if (!long.TryParse(context.Request.Query["bytes"], out var count) || count < 0)
        {
            await BadRequestAsync(context, "bytes=N (N >= 0) is required");
            return;
        }
        _ = long.TryParse(context.Request.Query["seed"], out var seed);
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = count;
        await DeterministicBytes.WriteAsync(context.Response.Body, count, seed, context.RequestAborted);
    }

    private static Task HeadersAsync(HttpContext context)
    {
        var request = context.Request;
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString());
        return context.Response.WriteAsJsonAsync(new
        {
            method = request.Method,
            path = request.Path + request.QueryString,
            protocol = request.Protocol,
            headers,
        }, context.RequestAborted);
    }

    private static Task SetCookiesAsync(HttpContext context)
    {
        // Exactly as asked, one Set-Cookie line per value: what a service sends is the point, not what ASP.NET's cookie API would make of it.
        context.Response.Headers.SetCookie = context.Request.Query["set"];
        return context.Response.WriteAsync("cookies set\n", context.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext context)
    {
        if (!int.TryParse(context.Request.Query["events"], out var events) || events is < 1 or > MaxStreamEvents)
        {
            await BadRequestAsync(context, $"events=N (1..{MaxStreamEvents}) is required");
            return;
        }
        _ = int.TryParse(context.Request.Query["interval_ms"], out var intervalMs);
        var interval = TimeSpan.FromMilliseconds(Math.Clamp(intervalMs, 0, 60_000));
        context.Response.ContentType = "text/plain; charset=utf-8";
        // No Content-Length: Kestrel sends chunks, one per flush, as a live log or a kernel's output would.
        for (var i = 0; i < events; i++)
        {
            if (i > 0 && interval > TimeSpan.Zero)
            {
                // Pacing is what this endpoint is for: the delay is the payload, not a guess at a signal.
                await Task.Delay(interval, context.RequestAborted);
            }
            await context.Response.WriteAsync($"event {i}\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    private static async Task EchoWebSocketAsync(HttpContext context)
    {
        // Accept the first subprotocol offered so a test can see whether the proxy passed Sec-WebSocket-Protocol through.
        var protocol = context.WebSockets.WebSocketRequestedProtocols.FirstOrDefault();
        using var socket = await context.WebSockets.AcceptWebSocketAsync(protocol);
        var buffer = new byte[DeterministicBytes.BlockSize];
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(received.CloseStatus ?? WebSocketCloseStatus.NormalClosure, received.CloseStatusDescription, context.RequestAborted);
                    return;
                }
                // Echo each fragment with its own end-of-message flag, so message boundaries come back as they went.
                await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The client (or the proxy in between) went away without a close handshake; nothing to answer.
        }
    }

    private static Task NotFoundAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return context.Response.WriteAsync($"no endpoint for {context.Request.Method} {context.Request.Path}\n", context.RequestAborted);
    }

    private static Task BadRequestAsync(HttpContext context, string why)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return context.Response.WriteAsync(why + "\n", context.RequestAborted);
    }

    /// <summary>Reads the JSON an <c>/upload</c> answered: the byte count and lowercase hex SHA-256 the server saw.</summary>
    public static (long Bytes, string Sha256) ParseUploadResult(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return (root.GetProperty("bytes").GetInt64(), root.GetProperty("sha256").GetString() ?? "");
    }

    public async ValueTask DisposeAsync()
    {
        // Streams and WebSockets still open are cut when the deadline passes; tests are done with them.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(deadline.Token);
        await _app.DisposeAsync();
    }
}
