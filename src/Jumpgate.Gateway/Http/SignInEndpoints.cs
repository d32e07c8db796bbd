using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Oidc;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// Signing a browser in. On the gateway's own domain: the sign-in form and sign-out (its home
/// page is the dashboard, Dashboard/). A service subdomain gets its own session through a
/// one-time code: the gateway's domain mints it for a signed-in browser (or `jumpgate open`
/// for a user token) and the subdomain's <see cref="CallbackPath"/> redeems it for a cookie.
/// </summary>
internal sealed class SignInEndpoints(
    ServiceRouter router,
    BrowserSessions sessions,
    SignInCodes codes,
    Authenticator authenticator,
    ITokenStore tokens,
    AuditLog audit,
    TimeProvider time,
    OidcBrowserSignIn? sso = null,
    OidcDeviceSignIn? ssoDevice = null)
{
    /// <summary>Paths under this prefix on a service subdomain are the gateway's, never forwarded.</summary>
    public const string ReservedPrefix = "/_jumpgate/";

    public const string CallbackPath = ReservedPrefix + "signin";

    /// <summary>Signing out on a service subdomain: a confirm page (GET) and its form (POST).</summary>
    public const string SignOutPath = ReservedPrefix + "signout";

    /// <summary>A code for a redirect is used within a second or two; one printed by `jumpgate open` waits for a click.</summary>
    public static readonly TimeSpan RedirectCodeLifetime = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan LinkCodeLifetime = TimeSpan.FromMinutes(5);

    /// <summary>Requests to the gateway's own domain: true if handled here.</summary>
    public async Task<bool> TryHandleGatewayAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        var method = http.Request.Method;
        switch (path)
        {
            case "/signin" when HttpMethods.IsGet(method) || HttpMethods.IsHead(method):
                await SignInPageAsync(http);
                return true;
            case "/signin" when HttpMethods.IsPost(method):
                await SignInAsync(http);
                return true;
            case OidcBrowserSignIn.StartPath when sso is not null && HttpMethods.IsGet(method):
                if (await sso.ChallengeAsync(http, http.Request.Query["to"].ToString()) is { } failed)
                {
                    await SignInPageAsync(http, StatusCodes.Status502BadGateway, http.Request.Query["to"].ToString(), failed);
                }
                return true;
            case OidcBrowserSignIn.CallbackPath when sso is not null:
                await SsoCallbackAsync(http, sso);
                return true;
            case OidcDeviceSignIn.DevicePath or OidcDeviceSignIn.TokenPath when ssoDevice is not null:
                return await ssoDevice.TryHandleAsync(http);
            case "/signout" when HttpMethods.IsPost(method):
                if (!SameOrigin(http))
                {
                    await Pages.ErrorAsync(http, StatusCodes.Status403Forbidden, "Refused", "a sign-out from another site");
                    return true;
                }
                SignOut(http);
                http.Response.Redirect("/signin");
                return true;
            default:
                return false;
        }
    }

    /// <summary>A service subdomain's <see cref="ReservedPrefix"/> paths, which are the gateway's and never forwarded.</summary>
    public Task ServiceReservedAsync(HttpContext http, string label) => http.Request.Path.Value switch
    {
        CallbackPath => CallbackAsync(http, label),
        SignOutPath => ServiceSignOutAsync(http),
        var path => Pages.ErrorAsync(http, StatusCodes.Status404NotFound, "Not found", $"{path} is reserved for the gateway"),
    };

    /// <summary>A service subdomain's <see cref="CallbackPath"/>: redeem the code, set this subdomain's cookie, go where the user was going.</summary>
    private Task CallbackAsync(HttpContext http, string label)
    {
        var next = SafeLocalPath(http.Request.Query["next"].ToString());
        var grant = codes.Redeem(http.Request.Query["code"].ToString(), label);
        if (grant is null)
        {
            // Used, expired or foreign: start again from the sign-in page, which mints a fresh code if the browser is signed in there.
            http.Response.Redirect(SignInUrl(http, $"https://{http.Request.Host}{next}"));
            return Task.CompletedTask;
        }
        sessions.SignIn(http, grant.User, grant.TokenId, grant.SignIn);
        audit.Write(new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindSignIn, Outcome = "signed_in", User = grant.User, Source = PeerAddress.Of(http), Reason = $"one-time code for {label}" });
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Redirect(next);
        return Task.CompletedTask;
    }

    /// <summary>Where a browser without a session on a service subdomain is sent: the gateway's sign-in page, coming back to <paramref name="to"/>.</summary>
    public string SignInUrl(HttpContext http, string to) =>
        $"{router.GatewayUrl(http.Request.Host.Value)}/signin?to={Uri.EscapeDataString(to)}";

    /// <summary>A one-time link that signs a browser in on a service's subdomain (what `jumpgate open` prints).</summary>
    public string MintLink(Principal user, string label, string? hostHeader, string next = "/")
    {
        // A link is a sign-in of its own: signing out of the gateway in some browser does not end it.
        var code = codes.Mint(user.Name, user.TokenId, BrowserSessions.NewSignIn(), label, LinkCodeLifetime);
        return $"{router.UrlOf(label, hostHeader).TrimEnd('/')}{CallbackPath}?code={code}&next={Uri.EscapeDataString(next)}";
    }

    private async Task SignInPageAsync(HttpContext http)
    {
        var to = http.Request.Query["to"].ToString();
        if (sessions.Find(http) is { } session)
        {
            // An admin's session (the dashboard's, from an admin token) opens no service: services are reached as a user, through the rules.
            http.Response.Redirect(tokens.Find(session.TokenId)?.Kind == PrincipalKind.User ? ContinueTo(http, session.User, session.TokenId, session.SignIn, to) : "/");
            return;
        }
        await SignInPageAsync(http, StatusCodes.Status200OK, to, error: null);
    }

    /// <summary>
    /// The form's post answers with a redirect to the service's subdomain (through its one-time
    /// code), and browsers hold that redirect to the form's <c>form-action</c> too: 'self' alone
    /// made Chromium block every sign-in that was on its way to a service.
    /// </summary>
    private Task SignInPageAsync(HttpContext http, int status, string to, string? error) =>
        Pages.WriteAsync(http, status, Pages.SignIn(to, error, sso?.DisplayName), formTarget: router.ServiceOrigins(http.Request.Host.Value));

    /// <summary>The identity provider's callback: a Jumpgate session for the user it vouched for, then on as after a token sign-in.</summary>
    private async Task SsoCallbackAsync(HttpContext http, OidcBrowserSignIn flow)
    {
        if (await flow.CallbackAsync(http) is not { } outcome)
        {
            await Pages.ErrorAsync(http, StatusCodes.Status404NotFound, "Not found", $"{OidcBrowserSignIn.CallbackPath} is where the identity provider sends a browser back");
            return;
        }
        if (outcome.User is null)
        {
            await SignInPageAsync(http, outcome.Status, outcome.To, outcome.Refusal);
            return;
        }
        var signIn = sessions.SignIn(http, outcome.User, outcome.TokenId!, signIn: null);
        http.Response.StatusCode = StatusCodes.Status303SeeOther;
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Location = ContinueTo(http, outcome.User, outcome.TokenId!, signIn, outcome.To);
    }

    private async Task SignInAsync(HttpContext http)
    {
        if (!SameOrigin(http))
        {
            await Pages.ErrorAsync(http, StatusCodes.Status403Forbidden, "Refused", "a sign-in form posted from another site");
            return;
        }
        var (form, refusal) = await SignInForm.ReadAsync(http.Request, http.RequestAborted);
        if (form is null)
        {
            await Pages.ErrorAsync(http, refusal!.Value.Status, "Sign-in form refused", refusal.Value.Reason);
            return;
        }
        var to = form.To;
        var remote = PeerAddress.Of(http);
        var user = authenticator.Authenticate(form.Token.Trim(), PrincipalKind.User, remote, out var throttled);
        if (user is null)
        {
            var limited = authenticator.IsLimited(remote);
            var message = await authenticator.RefusalAsync(remote, http.RequestAborted);
            if (!throttled)
            {
                // A throttled attempt is only counted: the authenticator writes one summary a minute per source.
                audit.Write(new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindSignIn, Outcome = "failed", Source = remote, Reason = message });
            }
            await SignInPageAsync(http, limited ? StatusCodes.Status429TooManyRequests : StatusCodes.Status401Unauthorized, to, message);
            return;
        }
        var signIn = sessions.SignIn(http, user.Name, user.TokenId, signIn: null);
        audit.Write(new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindSignIn, Outcome = "signed_in", User = user.Name, Source = remote, Reason = "user token" });
        // 303: the browser follows with a GET, so a reload does not post the token again.
        http.Response.StatusCode = StatusCodes.Status303SeeOther;
        http.Response.Headers.Location = ContinueTo(http, user.Name, user.TokenId, signIn, to);
    }

    /// <summary>
    /// After a sign-in: on to the service the browser came from (through a one-time code), or home.
    /// The code goes only to the service's subdomain on the port this request reached the gateway on,
    /// never to a port <paramref name="to"/> names: that could be another listener on the same name.
    /// </summary>
    private string ContinueTo(HttpContext http, string user, string tokenId, string signIn, string to)
    {
        if (!Uri.TryCreate(to, UriKind.Absolute, out var target) || target.Scheme != Uri.UriSchemeHttps
            || router.Classify(target.Authority, out var label) != HostKind.Service)
        {
            // Anything else would make the gateway an open redirect.
            return "/";
        }
        var code = codes.Mint(user, tokenId, signIn, label, RedirectCodeLifetime);
        return $"{router.UrlOf(label, http.Request.Host.Value).TrimEnd('/')}{CallbackPath}?code={code}&next={Uri.EscapeDataString(SafeLocalPath(target.PathAndQuery))}";
    }

    /// <summary>
    /// <see cref="SignOutPath"/>: GET asks (a link or a prefetch must not sign anyone out), a POST
    /// from the subdomain's own page ends the whole sign-in and goes to the gateway's sign-in page.
    /// </summary>
    private async Task ServiceSignOutAsync(HttpContext http)
    {
        var gateway = router.GatewayUrl(http.Request.Host.Value);
        if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        {
            await Pages.WriteAsync(http, StatusCodes.Status200OK, Pages.SignOut(SignOutPath), formTarget: gateway);
            return;
        }
        if (!HttpMethods.IsPost(http.Request.Method))
        {
            http.Response.Headers.Allow = "GET, HEAD, POST";
            await Pages.ErrorAsync(http, StatusCodes.Status405MethodNotAllowed, "Method not allowed", $"{SignOutPath} takes GET (to ask) or POST (to sign out)");
            return;
        }
        if (!SameOrigin(http))
        {
            await Pages.ErrorAsync(http, StatusCodes.Status403Forbidden, "Refused", "a sign-out from another site");
            return;
        }
        SignOut(http);
        // 303: the browser follows with a GET, away from the service.
        http.Response.StatusCode = StatusCodes.Status303SeeOther;
        http.Response.Headers.Location = $"{gateway}/signin";
    }

    /// <summary>Ends the request's whole sign-in (gateway and every subdomain) and audits it.</summary>
    private void SignOut(HttpContext http)
    {
        if (sessions.SignOut(http) is var (session, ended))
        {
            audit.Write(new AuditEvent
            {
                Time = time.GetUtcNow(), Event = AuditEvent.KindSignIn, Outcome = "signed_out", User = session.User, Source = PeerAddress.Of(http),
                Reason = $"signed out on {session.Host}: {ended} session(s) ended",
            });
        }
    }

    /// <summary>A path on the same site ("/x"), or "/" for anything a browser could read as another site (<see cref="LocalPath"/>).</summary>
    private static string SafeLocalPath(string path) => LocalPath.OrRoot(path);

    /// <summary>A form post must come from the gateway's own pages: browsers send Origin with every POST.</summary>
    private static bool SameOrigin(HttpContext http) =>
        http.Request.Headers.Origin.ToString() is var origin && (origin.Length == 0 || origin == $"https://{http.Request.Host}");
}
