using System.Security.Cryptography;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// The session cookie: host-only (the <c>__Host-</c> prefix makes browsers enforce Secure, Path=/
/// and no Domain), HttpOnly, SameSite=Lax, with an expiry. The gateway's domain and each service
/// subdomain have their own cookie, and each session is bound to the host it was issued for, so
/// a cookie one service leaks opens nothing else; the gateway strips it from every request it forwards.
/// </summary>
internal sealed class BrowserSessions(IWebSessionStore store, IStoreGeneration generation, ServiceRouter router, GatewayOptions options, TimeProvider time)
{
    public const string CookieName = "__Host-jumpgate";

    /// <summary>
    /// Live sessions kept in memory, each believed while the store's generation is the one it was
    /// read at (so a sign-out, a revoked token or a disabled user anywhere ends it at the next
    /// request): a few hundred bytes each, so at most about 2 MiB. More browsers than this only
    /// means more of them are read from the store.
    /// </summary>
    public const int CacheCapacity = 4096;

    private readonly SessionCache _recent = new(CacheCapacity);

    /// <summary>Sessions held in memory now (for tests: it never grows past <see cref="CacheCapacity"/>).</summary>
    internal int Cached => _recent.Count;

    /// <summary>The session this request's cookie names, if it is live and was issued for the host the request is for.</summary>
    public WebSession? Find(HttpContext http) => Find(http, out _);

    /// <summary><see cref="Find(HttpContext)"/>, with the store generation the answer holds at, for the request's other questions.</summary>
    public WebSession? Find(HttpContext http, out long readAt)
    {
        readAt = 0;
        // The cookie's shape is checked before anything else: a malformed one costs no hash, lookup or memory.
        if (SiteOf(http) is not { } site || !http.Request.Cookies.TryGetValue(CookieName, out var value) || !SessionCookie.TryParse(value, out var cookie))
        {
            return null;
        }
        var now = time.GetUtcNow();
        // Read before the session: a change committed in between makes the next request read again.
        var current = readAt = generation.Read();
        WebSession? session;
        if (_recent.TryGet(cookie.Id, out var cached) && cached.Generation == current)
        {
            // A wrong secret for a cached id is wrong in the store too: the secret never changes.
            session = cookie.Matches(cached.SecretHash) ? cached.Session : null;
        }
        else
        {
            session = store.Find(cookie, now);
            if (session is null)
            {
                // Unknown, ended or wrong: nothing is kept, so random cookies cost a lookup each and no memory.
                _recent.Remove(cookie.Id);
                return null;
            }
            _recent.Set(new CachedSession(cookie.SecretHash, session, current));
        }
        return session is not null && session.Expires > now && session.Host == site ? session : null;
    }

    /// <summary>
    /// Starts a session on the host this request is for, as part of sign-in <paramref name="signIn"/>
    /// (null: a sign-in of its own); returns the sign-in's id.
    /// </summary>
    public string SignIn(HttpContext http, string user, string tokenId, string? signIn)
    {
        var site = SiteOf(http) ?? throw new InvalidOperationException($"{http.Request.Host} is not served by this gateway");
        signIn ??= NewSignIn();
        var now = time.GetUtcNow();
        var expires = now + options.Http.SessionLifetime;
        var cookie = store.Create(user, tokenId, site, signIn, now, expires);
        http.Response.Cookies.Append(CookieName, cookie, new CookieOptions
        {
            HttpOnly = true,
            Secure = true,
            SameSite = SameSiteMode.Lax,
            Path = "/",
            Expires = expires,
        });
        return signIn;
    }

    /// <summary>
    /// Ends the sign-in this request's session belongs to: its sessions on the gateway and on every
    /// subdomain, in the store and in this process's memory at once. Returns the ended session, if any.
    /// </summary>
    public (WebSession Session, int Ended)? SignOut(HttpContext http)
    {
        var session = Find(http);
        var ended = 0;
        if (session is not null)
        {
            ended = store.DeleteSignIn(session.SignIn);
            _recent.RemoveSignIn(session.SignIn);
        }
        http.Response.Cookies.Delete(CookieName, new CookieOptions { Secure = true, Path = "/", HttpOnly = true, SameSite = SameSiteMode.Lax });
        return session is null ? null : (session, ended);
    }

    /// <summary>A new sign-in's id: it groups sessions, it grants nothing.</summary>
    public static string NewSignIn() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>The host a session is issued for and accepted on: the gateway's domain, or one service's subdomain under it.</summary>
    private string? SiteOf(HttpContext http) => router.Classify(http.Request.Host.Value, out var label) switch
    {
        HostKind.Gateway => router.Domain,
        HostKind.Service => $"{label}.{router.Domain}",
        _ => null,
    };
}
