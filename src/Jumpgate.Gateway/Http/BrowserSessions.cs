using System.Collections.Concurrent;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// The session cookie: host-only (the <c>__Host-</c> prefix makes browsers enforce Secure, Path=/
/// and no Domain), HttpOnly, SameSite=Lax, with an expiry. The gateway's domain and each service
/// subdomain have their own cookie, so no service ever receives a credential for another, and
/// the gateway strips it from every request it forwards.
/// </summary>
internal sealed class BrowserSessions(GatewayStore store, GatewayOptions options, TimeProvider time)
{
    public const string CookieName = "__Host-jumpgate";

    /// <summary>How long a checked session is believed without asking the store again; revocation still lands within the 5 s promised.</summary>
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, (WebSession? Session, DateTimeOffset Checked)> _recent = new(StringComparer.Ordinal);

    public WebSession? Find(HttpContext http)
    {
        if (!http.Request.Cookies.TryGetValue(CookieName, out var cookie) || string.IsNullOrEmpty(cookie))
        {
            return null;
        }
        var now = time.GetUtcNow();
        if (_recent.TryGetValue(cookie, out var cached) && now - cached.Checked < Recheck)
        {
            return cached.Session is { } s && s.Expires > now ? s : null;
        }
        if (_recent.Count > 10_000)
        {
            _recent.Clear();
        }
        var session = store.FindWebSession(cookie, now);
        _recent[cookie] = (session, now);
        return session;
    }

    public void SignIn(HttpContext http, string user, string tokenId)
    {
        var now = time.GetUtcNow();
        var expires = now + options.Http.SessionLifetime;
        var cookie = store.CreateWebSession(user, tokenId, now, expires);
        http.Response.Cookies.Append(CookieName, cookie, new CookieOptions
        {
            HttpOnly = true,
            Secure = true,
            SameSite = SameSiteMode.Lax,
            Path = "/",
            Expires = expires,
        });
    }

    public void SignOut(HttpContext http)
    {
        if (Find(http) is { } session)
        {
            store.DeleteWebSession(session.Id);
        }
        if (http.Request.Cookies.TryGetValue(CookieName, out var cookie))
        {
            _recent.TryRemove(cookie, out _);
        }
        http.Response.Cookies.Delete(CookieName, new CookieOptions { Secure = true, Path = "/", HttpOnly = true, SameSite = SameSiteMode.Lax });
    }
}
