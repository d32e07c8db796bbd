using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using Jumpgate.Core.Audit;
using Jumpgate.Gateway.Audit;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// A browser's WebSocket (HTTP/1.1 Upgrade or HTTP/2 extended CONNECT) relayed to the service
/// over HTTP/1.1, message fragment by fragment, so nothing is buffered whole. Both legs ping
/// every 30 s and neither has an idle timeout: a kernel idle for an hour or a log streamed for a
/// day stays open for as long as both ends want it.
/// </summary>
internal static class WebSocketRelay
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);

    /// <summary>After one side closes, how long the other may take to answer its close before both are cut.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(HttpContext http, HttpMessageInvoker invoker, ForwardedRequest forward, AuditEvent opened, AuditLog audit, TimeProvider time)
    {
        using var service = new ClientWebSocket();
        service.Options.HttpVersion = HttpVersion.Version11;
        service.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        service.Options.KeepAliveInterval = KeepAlive;
        service.Options.CollectHttpResponseDetails = true;
        foreach (var (name, values) in forward.Headers())
        {
            service.Options.SetRequestHeader(name, string.Join(", ", values.ToArray()));
        }
        foreach (var protocol in http.WebSockets.WebSocketRequestedProtocols)
        {
            service.Options.AddSubProtocol(protocol);
        }
        try
        {
            await service.ConnectAsync(forward.UpstreamUri("ws"), invoker, http.RequestAborted);
        }
        catch (Exception e) when (e is WebSocketException or HttpRequestException)
        {
            var status = service.HttpStatusCode is var code && (int)code >= 400 ? (int)code : StatusCodes.Status502BadGateway;
            await Pages.ErrorAsync(http, status, "WebSocket refused", $"the service did not accept the WebSocket: {e.Message}");
            return;
        }
        catch (OperationCanceledException)
        {
            return;
        }

        using var browser = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = service.SubProtocol, KeepAliveInterval = KeepAlive });
        var start = time.GetUtcNow();
        audit.Write(opened with { Time = start, Start = start, Reason = "websocket " + http.Request.Path });
        using var cut = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var up = PumpAsync(browser, service, cut.Token);
        var down = PumpAsync(service, browser, cut.Token);
        var first = await Task.WhenAny(up, down);
        // The other side has a moment to answer the close; then both are cut.
        await Task.WhenAny(Task.WhenAll(up, down), Task.Delay(CloseGrace, time));
        await cut.CancelAsync();
        browser.Abort();
        service.Abort();
        var end = time.GetUtcNow();
        audit.Write(opened with
        {
            Time = end, Outcome = "closed", Start = start, End = end, BytesUp = await up, BytesDown = await down,
            Reason = $"websocket {http.Request.Path}: closed by the {(first == up ? "browser" : "service")}",
        });
    }

    /// <summary>Moves messages one way until a close (passed on) or a failure; returns the payload bytes moved.</summary>
    private static async Task<long> PumpAsync(WebSocket from, WebSocket to, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
        long moved = 0;
        try
        {
            while (true)
            {
                var received = await from.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    if (to.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        var status = from.CloseStatus is { } s && s != WebSocketCloseStatus.Empty ? s : WebSocketCloseStatus.NormalClosure;
                        await to.CloseOutputAsync(status, from.CloseStatusDescription, cancellationToken);
                    }
                    return moved;
                }
                moved += received.Count;
                await to.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, cancellationToken);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // One end went away without a close handshake; the caller cuts the other.
            return moved;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
