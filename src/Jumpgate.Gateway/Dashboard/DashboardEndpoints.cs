using System.Net;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Admin;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>
/// The dashboard on the gateway's own name: the page at <c>/</c>, its embedded files, its event
/// stream (<see cref="DashboardEvents"/>), an admin's lists and actions, and the one-time link
/// that `jumpgate open --dashboard` prints. Every answer but the static files needs a session on
/// the gateway's name; an admin is a session signed in with an admin token.
/// </summary>
internal sealed class DashboardEndpoints(
    BrowserSessions sessions,
    SignInCodes codes,
    ITokenStore tokens,
    GatewayStores stores,
    DashboardView view,
    DashboardEvents events,
    ServiceRouter router,
    AuditLog audit,
    TimeProvider time)
{
    public const string Prefix = "/dashboard/";

    /// <summary>Where a one-time dashboard link signs a browser in.</summary>
    public const string LinkPath = "/signin/link";

    /// <summary>
    /// The label one-time codes for the dashboard are minted for: not a DNS label, so no service
    /// subdomain ever redeems one, and a service's code never signs anyone in here.
    /// </summary>
    public const string CodeLabel = "@dashboard";

    private const string ActionsPrefix = Prefix + "actions/";

    /// <summary>Requests to the gateway's own name: true if handled here.</summary>
    public async Task<bool> TryHandleAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        var method = http.Request.Method;
        var read = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if (path == "/" && read)
        {
            await PageAsync(http);
            return true;
        }
        if (path == LinkPath && read)
        {
            RedeemLink(http);
            return true;
        }
        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        if (path.StartsWith(ActionsPrefix, StringComparison.Ordinal) && HttpMethods.IsPost(method))
        {
            await ActAsync(http, path[ActionsPrefix.Length..]);
            return true;
        }
        if (!read)
        {
            return false;
        }
        switch (path[Prefix.Length..])
        {
            case "events" or "admin" when !HttpMethods.IsGet(method):
                // A HEAD would hold an event stream open with no body to carry it.
                http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                http.Response.Headers.Allow = "GET";
                return true;
            case "events":
                await WithViewerAsync(http, viewer => events.RunAsync(http, viewer));
                return true;
            case "admin":
                await WithViewerAsync(http, viewer => AdminPanelAsync(http, viewer));
                return true;
            case var name:
                return await DashboardAssets.TryServeAsync(http, name);
        }
    }

    /// <summary>A one-time link for the dashboard, for a user's or an admin's token (what `jumpgate open --dashboard` prints).</summary>
    public string MintLink(Principal principal, string? hostHeader)
    {
        // A link is a sign-in of its own, as a service's link is.
        var code = codes.Mint(principal.Name, principal.TokenId, BrowserSessions.NewSignIn(), CodeLabel, SignInEndpoints.LinkCodeLifetime);
        return $"{router.GatewayUrl(hostHeader)}{LinkPath}?code={code}";
    }

    /// <summary>The dashboard's address for a client that reached the gateway with <paramref name="hostHeader"/>.</summary>
    public string Url(string? hostHeader) => router.GatewayUrl(hostHeader) + "/";

    /// <summary>The viewer of this request's session on the gateway's name: an admin if the session's token is an admin's.</summary>
    public DashboardViewer? Viewer(HttpContext http) =>
        sessions.Find(http) is { } session
            ? new DashboardViewer(session.User, tokens.Find(session.TokenId)?.Kind == PrincipalKind.Admin, session)
            : null;

    private async Task PageAsync(HttpContext http)
    {
        if (Viewer(http) is not { } viewer)
        {
            http.Response.Redirect("/signin");
            return;
        }
        var snapshot = view.Build(viewer, http.Request.Host.Value, adminVersion: null);
        var links = snapshot.Hosts.SelectMany(h => h.Services.Where(s => s.Url is not null).Select(s => $"<li><a href=\"{Encode(s.Url!)}\">{Encode(h.Name)} {Encode(s.Name)}</a></li>"));
        var html = DashboardAssets.PageTemplate
            .Replace("{{viewer}}", Encode(viewer.Name), StringComparison.Ordinal)
            .Replace("{{role}}", viewer.IsAdmin ? "admin" : "user", StringComparison.Ordinal)
            .Replace("{{csrf}}", viewer.IsAdmin ? DashboardCsrf.For(http) : "", StringComparison.Ordinal)
            .Replace("{{links}}", string.Concat(links), StringComparison.Ordinal);
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        // Scripts, styles and the event stream from this origin only; nothing inline, nothing framed.
        http.Response.Headers.ContentSecurityPolicy =
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
        await http.Response.WriteAsync(html, http.RequestAborted);
    }

    /// <summary><see cref="LinkPath"/>: redeems a dashboard code for a session on the gateway's name, then shows the dashboard.</summary>
    private void RedeemLink(HttpContext http)
    {
        http.Response.Headers.CacheControl = "no-store";
        if (codes.Redeem(http.Request.Query["code"].ToString(), CodeLabel) is not { } grant)
        {
            // Used, expired or foreign: the sign-in form is the way in.
            http.Response.Redirect("/signin");
            return;
        }
        sessions.SignIn(http, grant.User, grant.TokenId, grant.SignIn);
        audit.Write(new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindSignIn, Outcome = "signed_in", User = grant.User, Source = PeerAddress.Of(http), Reason = "one-time code for the dashboard" });
        http.Response.Redirect("/");
    }

    private async Task AdminPanelAsync(HttpContext http, DashboardViewer viewer)
    {
        if (!viewer.IsAdmin)
        {
            await ErrorAsync(http, StatusCodes.Status403Forbidden, "the admin lists are for admins");
            return;
        }
        var query = http.Request.Query;
        var actions = Actions(http, viewer);
        var limit = int.TryParse(query["limit"], out var n) ? Math.Clamp(n, 1, 500) : 100;
        string? Filter(string name) => query[name].ToString() is { Length: > 0 } value ? value : null;
        AdminPanel panel;
        try
        {
            var events = actions.Audit(Filter("user"), Filter("host"), Filter("since"), limit, Filter("event"));
            panel = new AdminPanel(
                actions.List(PrincipalKind.User), actions.List(PrincipalKind.Agent),
                [.. actions.Tokens().Where(t => !t.Revoked)], [.. events.Reverse()]);
        }
        catch (InvalidOperationException e)
        {
            // A filter the admin typed that does not parse (a duration such as 1h): its words, not a 500.
            await ErrorAsync(http, StatusCodes.Status400BadRequest, e.Message);
            return;
        }
        http.Response.Headers.CacheControl = "no-store";
        await http.Response.WriteAsJsonAsync(panel, DashboardJson.Default.AdminPanel, cancellationToken: http.RequestAborted);
    }

    /// <summary>
    /// An admin's button: disable a user or an agent, or revoke a token. Only from the dashboard's
    /// own page (its Origin), with the session's CSRF token, and through <see cref="AdminActions"/>,
    /// so it is checked and audited exactly as the same command from the CLI or the admin API is.
    /// </summary>
    private async Task ActAsync(HttpContext http, string action)
    {
        if (Viewer(http) is not { } viewer)
        {
            await ErrorAsync(http, StatusCodes.Status401Unauthorized, "sign in first");
            return;
        }
        if (http.Request.Headers.Origin.ToString() != $"https://{http.Request.Host}" || !DashboardCsrf.Matches(http))
        {
            await ErrorAsync(http, StatusCodes.Status403Forbidden, "refused: an action must come from the dashboard's own page, with its token");
            return;
        }
        if (!viewer.IsAdmin)
        {
            await ErrorAsync(http, StatusCodes.Status403Forbidden, "only an admin can do that");
            return;
        }
        var slash = action.IndexOf('/', StringComparison.Ordinal);
        var (verb, target) = slash < 0 ? (action, "") : (action[..slash], action[(slash + 1)..]);
        var actions = Actions(http, viewer);
        try
        {
            var done = verb switch
            {
                "disable-user" => Do(() => actions.SetDisabled(PrincipalKind.User, target, disabled: true), $"disabled user {target}"),
                "disable-agent" => Do(() => actions.SetDisabled(PrincipalKind.Agent, target, disabled: true), $"disabled agent {target}"),
                "revoke-token" => $"revoked token {actions.RevokeToken(target).Id}",
                _ => null,
            };
            if (done is null)
            {
                await ErrorAsync(http, StatusCodes.Status404NotFound, $"no such action: {verb}");
                return;
            }
            await http.Response.WriteAsJsonAsync(new ActionResult(true, done), DashboardJson.Default.ActionResult, cancellationToken: http.RequestAborted);
        }
        catch (InvalidOperationException e)
        {
            // The store's and the checks' words for the admin: no such user, no such token.
            await ErrorAsync(http, StatusCodes.Status400BadRequest, e.Message);
        }
    }

    private static string Do(Action action, string done)
    {
        action();
        return done;
    }

    private AdminActions Actions(HttpContext http, DashboardViewer viewer) => new(stores, viewer.Name, PeerAddress.Of(http), audit.Write, time);

    private async Task WithViewerAsync(HttpContext http, Func<DashboardViewer, Task> handle)
    {
        if (Viewer(http) is not { } viewer)
        {
            await ErrorAsync(http, StatusCodes.Status401Unauthorized, "sign in first");
            return;
        }
        await handle(viewer);
    }

    private static Task ErrorAsync(HttpContext http, int status, string message)
    {
        http.Response.StatusCode = status;
        http.Response.Headers.CacheControl = "no-store";
        return http.Response.WriteAsJsonAsync(new ActionResult(false, message), DashboardJson.Default.ActionResult, cancellationToken: http.RequestAborted);
    }

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
