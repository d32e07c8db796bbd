using System.Net.Http.Headers;
using Jumpgate.Core.Protocol;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Forwarder;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// How a browser's request looks to the service. By default it carries the service's own Host
/// and a matching Origin (what Jupyter, with remote access off and its Origin check on, accepts),
/// after the gateway checked the browser's Origin itself; <c>preserve_host</c> passes the
/// browser's instead. X-Forwarded-For/-Proto/-Host say where it came from either way. The
/// gateway's cookie and hop-by-hop headers never go upstream; the browser's own forwarding claims
/// (Forwarded, X-Real-IP, X-Forwarded-*...) neither. A service's cookies reach the browser only
/// as host-only cookies of its own subdomain (<see cref="ServiceCookie"/>). A WebSocket's
/// handshake headers pass as they came, so browser and service agree on its subprotocol and
/// compression between themselves; the forwarder adds the Upgrade itself. This is the transform
/// of YARP's forwarder: its own header copy, with rules of its own, never runs.
/// </summary>
internal sealed class ForwardedRequest(HttpContext http, ServiceAnnouncement service) : HttpTransformer
{
    /// <summary>Headers that describe one hop, not the request (RFC 9110 §7.6.1), and ones the gateway sets itself.</summary>
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Expect",
        "Host", "Cookie", "Origin", "Referer",
        // Claims about where the request came from, which frameworks believe from a proxy in front of them: the gateway is the
        // edge, so only what it sets itself (X-Forwarded-For/-Proto/-Host) reaches the service. See also IsForwardingClaim.
        "Forwarded", "X-Real-IP", "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "X-Rewrite-URL",
    };

    private static readonly HashSet<string> NotReturned = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    };

    private readonly string _publicOrigin = $"https://{http.Request.Host}";

    /// <summary>The Host the service sees.</summary>
    public string UpstreamHost { get; } = service.PreserveHost || service.UpstreamHost is null
        ? http.Request.Host.Value ?? "localhost"
        : service.UpstreamHost;

    private string UpstreamOrigin => service.PreserveHost ? _publicOrigin : $"http://{UpstreamHost}";

    /// <summary>The request target exactly as the browser sent it (path and query), so nothing is re-encoded on the way.</summary>
    public string Target
    {
        get
        {
            var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
            return raw is { Length: > 0 } && raw[0] == '/' ? raw : $"{http.Request.Path.ToUriComponent()}{http.Request.QueryString.ToUriComponent()}";
        }
    }

    /// <summary>Where the forwarder sends the request: the connection itself is always a stream through the agent.</summary>
    public string DestinationPrefix => $"http://{UpstreamHost}";

    /// <summary>Replaces the forwarder's own header copy: the request carries exactly <see cref="Headers"/>.</summary>
    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        proxyRequest.RequestUri = new Uri(DestinationPrefix + Target);
        foreach (var (name, value) in Headers())
        {
            if (!TryAdd(proxyRequest.Headers, name, value) && proxyRequest.Content is { } content)
            {
                TryAdd(content.Headers, name, value);
            }
        }
        proxyRequest.Headers.Host = UpstreamHost;
        return ValueTask.CompletedTask;
    }

    /// <summary>Replaces the forwarder's own header copy: the browser gets the headers <see cref="CopyResponseHeaders"/> lets through.</summary>
    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        // No response (the service was not reached): the caller writes the error page.
        if (proxyResponse is not null)
        {
            CopyResponseHeaders(proxyResponse);
        }
        return ValueTask.FromResult(proxyResponse is not null);
    }

    /// <summary>A header as it came; a single value (nearly every header) goes in without an array of its own.</summary>
    private static bool TryAdd(HttpHeaders headers, string name, StringValues value) =>
        value.Count == 1 ? headers.TryAddWithoutValidation(name, value[0]) : headers.TryAddWithoutValidation(name, value.ToArray());

    /// <summary>Every header the service gets, rewritten as the class comment says.</summary>
    public IEnumerable<(string Name, StringValues Value)> Headers()
    {
        var request = http.Request;
        foreach (var (name, value) in request.Headers)
        {
            // With the agent holding the service's token, the gateway's Authorization replaces the browser's.
            var replaced = service.Token is not null && name.Equals("Authorization", StringComparison.OrdinalIgnoreCase);
            if (!NotForwarded.Contains(name) && !IsForwardingClaim(name) && !name.StartsWith(':') && !replaced)
            {
                yield return (name, value);
            }
        }
        if (FilteredCookies(request.Headers.Cookie) is { Length: > 0 } cookies)
        {
            yield return ("Cookie", cookies);
        }
        if (request.Headers.Origin.ToString() is { Length: > 0 })
        {
            yield return ("Origin", UpstreamOrigin);
        }
        if (request.Headers.Referer.ToString() is { Length: > 0 } referer)
        {
            yield return ("Referer", referer.StartsWith(_publicOrigin + "/", StringComparison.Ordinal) ? UpstreamOrigin + referer[_publicOrigin.Length..] : referer);
        }
        if (service.Token is { } token)
        {
            yield return ("Authorization", "token " + token);
        }
        // The gateway is the edge: what the browser claims in X-Forwarded-* is not passed on.
        yield return ("X-Forwarded-For", http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        yield return ("X-Forwarded-Proto", "https");
        yield return ("X-Forwarded-Host", request.Host.Value ?? "");
    }

    public void CopyResponseHeaders(HttpResponseMessage response)
    {
        var target = http.Response;
        target.StatusCode = (int)response.StatusCode;
        Copy(response.Headers.NonValidated);
        Copy(response.Content.Headers.NonValidated);

        // NonValidated: the values as the service sent them, not re-parsed and re-joined (Server: a b stays one value).
        void Copy(HttpHeadersNonValidated headers)
        {
            foreach (var (name, values) in headers)
            {
                if (NotReturned.Contains(name))
                {
                    continue;
                }
                if (name.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase))
                {
                    target.Headers.SetCookie = new StringValues([.. values.Select(ServiceCookie.HostOnly).OfType<string>()]);
                    continue;
                }
                target.Headers[name] = name.Equals("Location", StringComparison.OrdinalIgnoreCase) ? new StringValues(values.Select(RewriteLocation).ToArray())
                    : values.Count == 1 ? values.ToString() // one value, as nearly every header has: no array
                    : new StringValues(values.ToArray());
            }
        }
    }

    /// <summary>The browser's X-Forwarded-* (Port, Prefix, Server, Ssl...) and X-Original-* (URL, Host...): never passed on.</summary>
    private static bool IsForwardingClaim(string name) =>
        name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("X-Original-", StringComparison.OrdinalIgnoreCase);

    /// <summary>A redirect to the service's own address points back at its subdomain.</summary>
    private string RewriteLocation(string location) =>
        !service.PreserveHost && location.StartsWith(UpstreamOrigin, StringComparison.OrdinalIgnoreCase)
            && (location.Length == UpstreamOrigin.Length || location[UpstreamOrigin.Length] is '/' or '?')
            ? _publicOrigin + location[UpstreamOrigin.Length..]
            : location;

    private const string GatewayCookiePrefix = BrowserSessions.CookieName + "=";

    /// <summary>The browser's cookies minus the gateway's own, which no service may see.</summary>
    private static string FilteredCookies(StringValues headers)
    {
        var kept = new List<string>();
        foreach (var header in headers)
        {
            var text = header.AsSpan();
            foreach (var range in text.Split(';'))
            {
                var cookie = text[range].Trim();
                if (cookie.Length > 0 && !cookie.StartsWith(GatewayCookiePrefix, StringComparison.Ordinal))
                {
                    kept.Add(cookie.ToString());
                }
            }
        }
        return string.Join("; ", kept);
    }
}
