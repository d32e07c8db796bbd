using System.Net;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Routing;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// The HTTP side of the one port: requests for the gateway's own domain go to its pages and API;
/// requests for a service subdomain are checked (bad framing, Origin, session, rules) and then
/// forwarded through the serving agent by YARP's forwarder, streaming both ways, WebSockets
/// included. Nothing a check refuses ever reaches the service.
/// </summary>
internal sealed class HttpProxy(
    ServiceRouter router,
    BrowserSessions sessions,
    SignInEndpoints signIn,
    Dashboard.DashboardEndpoints dashboard,
    StreamAuthorizer authorizer,
    ReplicaPins pins,
    UpstreamConnections upstream,
    IHttpForwarder forwarder,
    AccessMonitor monitor,
    AuditLog audit,
    GatewayOptions options,
    TimeProvider time,
    StoreHealth store,
    ILogger<HttpProxy> logger)
{
    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        try
        {
            await RouteAsync(http, next);
        }
        catch (Exception e) when (StoreHealth.IsOutage(e) && !http.Response.HasStarted)
        {
            // A session, sign-in or rule the gateway does not hold in memory and cannot read: the
            // browser is told to come back, the operator reads the store's minute line, not one per request.
            store.Lost(e);
            store.Refused();
            await Pages.ErrorAsync(http, StatusCodes.Status503ServiceUnavailable, "Try again shortly", StoreHealth.Refusal);
        }
    }

    private async Task RouteAsync(HttpContext http, RequestDelegate next)
    {
        switch (router.Classify(http.Request.Host.Value, out var label))
        {
            case HostKind.Gateway:
                if (!await dashboard.TryHandleAsync(http) && !await signIn.TryHandleGatewayAsync(http))
                {
                    await next(http);
                }
                return;
            case HostKind.Foreign:
                await Pages.ErrorAsync(http, StatusCodes.Status421MisdirectedRequest, "Not served here",
                    $"this gateway serves {router.Domain} and its subdomains, not {http.Request.Host.Host}");
                return;
            default:
                await ServiceAsync(http, label);
                return;
        }
    }

    private async Task ServiceAsync(HttpContext http, string label)
    {
        var request = http.Request;
        var path = request.Path.Value ?? "/";
        if (path.StartsWith(SignInEndpoints.ReservedPrefix, StringComparison.Ordinal))
        {
            await signIn.ServiceReservedAsync(http, label);
            return;
        }
        if (FramingError(request) is { } framing)
        {
            await Pages.ErrorAsync(http, framing.Status, "Bad request", framing.Reason);
            return;
        }
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && origin != $"https://{request.Host}")
        {
            // Another site, or another service's subdomain (same site, so SameSite=Lax would still send the cookie).
            await Pages.ErrorAsync(http, StatusCodes.Status403Forbidden, "Cross-origin request refused", $"a request from {origin} may not use this service");
            return;
        }
        if (sessions.Find(http, out var readAt) is not { } session)
        {
            await SignInFirstAsync(http);
            return;
        }
        if (router.Resolve(label) is not { } target)
        {
            await Pages.ErrorAsync(http, StatusCodes.Status404NotFound, "No such service", $"no HTTP service is served at {label}.{router.Domain}");
            return;
        }
        if (authorizer.RuleRefusal(session.User, target.Host, target.Service, readAt) is { } refusal)
        {
            GatewayLog.HttpDenied(logger, session.User, target.Host, target.Service, refusal);
            audit.Write(new AuditEvent
            {
                Time = time.GetUtcNow(), Event = AuditEvent.KindHttp, Outcome = "denied", User = session.User, Source = PeerAddress.Of(http),
                Host = target.Host, Service = target.Service, Reason = refusal,
            });
            await Pages.ErrorAsync(http, StatusCodes.Status403Forbidden, "Not allowed", refusal);
            return;
        }
        if (target.Online.Count == 0)
        {
            await Pages.ErrorAsync(http, StatusCodes.Status503ServiceUnavailable, "Service offline", authorizer.Absence(target.Host));
            return;
        }
        var replicas = target.Online.Select(o => o.Session.ReplicaOf(target.Host, target.Service)).OfType<Replica>().ToList();
        // A browser sticks to one replica, so its kernels and sessions stay where they were made; it moves only when that one is down.
        if (pins.Choose(session.Id, replicas) is not { } replica)
        {
            await Pages.ErrorAsync(http, StatusCodes.Status503ServiceUnavailable, "Service down", Refusals.Unhealthy(target.Host, target.Service, replicas.Select(r => (r.Agent, r.Health.LastFailure))));
            return;
        }
        var (agentSession, announcement) = target.Online.First(o => o.Session == replica.Session);
        using var carried = replica.Carry();
        using var grant = monitor.TrackStream(session.User, session.TokenId, target.Host, target.Service, agentSession.Agent);
        using var revoked = grant.Revoked.Register(http.Abort);
        // Only now (signed in, allowed, a service to take it) may the body be as large as an upload: before, it is the gateway's small limit.
        // Read-only for an upgraded request (a WebSocket), whose body has no limit of its own.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = options.Http.MaxBodyBytes;
        }
        var invoker = upstream.For(agentSession, target.Host, target.Service);
        var forward = new ForwardedRequest(http, announcement);
        var webSocket = http.WebSockets.IsWebSocketRequest
            ? WebSocketAudit.Install(http, new AuditEvent
            {
                Time = time.GetUtcNow(), Event = AuditEvent.KindHttp, Outcome = "opened", User = session.User, Source = PeerAddress.Of(http),
                Host = target.Host, Service = target.Service, Agent = agentSession.Agent,
            }, audit, time)
            : null;
        var error = await forwarder.SendAsync(http, forward.DestinationPrefix, invoker, Forwarding, forward);
        webSocket?.Closed(error);
        await ForwardingErrorAsync(http, error, agentSession.Agent);
    }

    /// <summary>
    /// HTTP/1.1 to the service, whatever the browser speaks (a WebSocket over HTTP/2 becomes an
    /// HTTP/1.1 Upgrade), and no activity timeout: a kernel that computes for an hour before it
    /// answers, or a WebSocket idle for a day, stays open for as long as both ends want it.
    /// </summary>
    private static readonly ForwarderRequestConfig Forwarding = new()
    {
        Version = HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        ActivityTimeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// The page for a request the service never answered. Once the response has started, the
    /// forwarder has already aborted it, so the browser sees a broken response, not a short one
    /// that looks whole; a browser that went away gets nothing.
    /// </summary>
    private static async Task ForwardingErrorAsync(HttpContext http, ForwarderError error, string agent)
    {
        if (error == ForwarderError.None || http.Response.HasStarted || http.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        var cause = http.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? error.ToString();
        switch (error)
        {
            case ForwarderError.RequestBodyClient:
                // The browser's body broke off or ran over the limit (Kestrel's status says which).
                await Pages.ErrorAsync(http, http.Response.StatusCode, "Bad request", $"the request body could not be read: {cause}");
                return;
            case ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled:
                return;
            default:
                await Pages.ErrorAsync(http, StatusCodes.Status502BadGateway, "Service unreachable", $"agent {agent} could not reach the service: {cause}");
                return;
        }
    }

    /// <summary>
    /// Framing that request smuggling is made of, refused before anything is forwarded: both a
    /// length and chunking, or a declared body over the limit (which Kestrel would only find out
    /// while the body is already streaming to the service).
    /// </summary>
    private (int Status, string Reason)? FramingError(HttpRequest request)
    {
        // Kestrel honours Transfer-Encoding and moves a conflicting Content-Length to X-Content-Length; either way, both were sent.
        if (request.Headers.TransferEncoding.Count > 0 && (request.Headers.ContentLength is not null || request.Headers.ContainsKey("X-Content-Length")))
        {
            return (StatusCodes.Status400BadRequest, "a request may not carry both Content-Length and Transfer-Encoding");
        }
        if (request.ContentLength > options.Http.MaxBodyBytes)
        {
            return (StatusCodes.Status413PayloadTooLarge, $"the body is larger than this gateway's limit of {options.Http.MaxBodyBytes >> 20} MiB (http.max_body_mib)");
        }
        return null;
    }

    private async Task SignInFirstAsync(HttpContext http)
    {
        var request = http.Request;
        var navigation = (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && !http.WebSockets.IsWebSocketRequest
            && (request.Headers["Sec-Fetch-Mode"] == "navigate" || request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal));
        if (navigation)
        {
            http.Response.Headers.CacheControl = "no-store";
            http.Response.Redirect(signIn.SignInUrl(http, $"https://{request.Host}{request.Path}{request.QueryString}"));
            return;
        }
        http.Response.Headers.WWWAuthenticate = "Cookie realm=\"jumpgate\"";
        await Pages.ErrorAsync(http, StatusCodes.Status401Unauthorized, "Sign in first", $"sign in at {router.GatewayUrl(request.Host.Value)}/signin");
    }
}
