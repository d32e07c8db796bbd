using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>
/// A dashboard page's server-sent events: at most one snapshot per <see cref="Tick"/>, and only
/// when it differs from the last one sent (an idle gateway sends a keep-alive comment every
/// <see cref="KeepAlive"/>), plus the sparklines' history when a new sample is taken. Each tick
/// checks the session again, so a sign-out, a revoked token or a disabled user ends the stream
/// within a tick. A user may hold <see cref="MaxPerUser"/> streams at once (one per open page).
/// </summary>
internal sealed class DashboardEvents(
    DashboardView view,
    DashboardHistory history,
    BrowserSessions sessions,
    AuditLog audit,
    IStoreGeneration generation,
    IHostApplicationLifetime lifetime,
    TimeProvider time)
{
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    /// <summary>Open pages per user (or admin); more are refused, so a script gone wrong cannot hold the gateway's memory.</summary>
    public const int MaxPerUser = 8;

    private readonly ConcurrentDictionary<string, int> _open = new(StringComparer.Ordinal);

    public async Task RunAsync(HttpContext http, DashboardViewer viewer)
    {
        if (!Enter(viewer.Name))
        {
            http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            await http.Response.WriteAsync($"{MaxPerUser} dashboard pages are open for {viewer.Name} already; close one", http.RequestAborted);
            return;
        }
        try
        {
            await StreamAsync(http, viewer);
        }
        finally
        {
            Leave(viewer.Name);
        }
    }

    private async Task StreamAsync(HttpContext http, DashboardViewer viewer)
    {
        // The stream ends with the page, or when the gateway stops: it must not hold the drain to its deadline.
        using var end = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = end.Token;
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var host = http.Request.Host.Value;
        byte[]? lastSnapshot = null;
        var lastHistory = -1L;
        var quietSince = time.GetTimestamp();
        using var timer = new PeriodicTimer(Tick, time);
        try
        {
            // A page that lost its stream tries again after 5 s, not at once in a loop.
            await WriteAsync(response, "retry: 5000\n\n", cancellationToken);
            do
            {
                if (sessions.Find(http) is null)
                {
                    await WriteAsync(response, "event: signedout\ndata: {}\n\n", cancellationToken);
                    return;
                }
                var sent = false;
                var snapshot = JsonSerializer.SerializeToUtf8Bytes(view.Build(viewer, host, audit.Written + generation.Read()), DashboardJson.Default.DashboardSnapshot);
                if (lastSnapshot is null || !snapshot.AsSpan().SequenceEqual(lastSnapshot))
                {
                    await WriteEventAsync(response, "snapshot", snapshot, cancellationToken);
                    lastSnapshot = snapshot;
                    sent = true;
                }
                if (history.Version != lastHistory)
                {
                    lastHistory = history.Version;
                    await WriteEventAsync(response, "history", JsonSerializer.SerializeToUtf8Bytes(history.View(viewer.IsAdmin ? null : viewer.Name), DashboardJson.Default.DashboardHistoryView), cancellationToken);
                    sent = true;
                }
                if (sent)
                {
                    quietSince = time.GetTimestamp();
                }
                else if (time.GetElapsedTime(quietSince) >= KeepAlive)
                {
                    await WriteAsync(response, ": keep-alive\n\n", cancellationToken);
                    quietSince = time.GetTimestamp();
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The page went away, or the gateway is stopping.
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, string name, byte[] json, CancellationToken cancellationToken)
    {
        // Compact JSON has no line breaks, so one data line carries it.
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes($"event: {name}\ndata: "), cancellationToken);
        await response.Body.WriteAsync(json, cancellationToken);
        await WriteAsync(response, "\n\n", cancellationToken);
    }

    private static async Task WriteAsync(HttpResponse response, string text, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private bool Enter(string user)
    {
        while (true)
        {
            var count = _open.GetValueOrDefault(user);
            if (count >= MaxPerUser)
            {
                return false;
            }
            if (count == 0 ? _open.TryAdd(user, 1) : _open.TryUpdate(user, count + 1, count))
            {
                return true;
            }
        }
    }

    private void Leave(string user)
    {
        while (true)
        {
            var count = _open[user];
            if (count == 1 ? _open.TryRemove(new KeyValuePair<string, int>(user, 1)) : _open.TryUpdate(user, count - 1, count))
            {
                return;
            }
        }
    }
}
