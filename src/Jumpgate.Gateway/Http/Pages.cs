using System.Net;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Http;

/// <summary>The gateway's own HTML: the sign-in form, the sign-out page and error pages. Every value is HTML-encoded.</summary>
internal static class Pages
{
    private const string Style = """
        body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1d2733}
        h1{font-size:1.4rem}input[type=password]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
        button{margin-top:.75rem;padding:.5rem 1.25rem;font:inherit}code{background:#eef1f4;padding:0 .25rem}
        .muted{color:#5b6875}ul{padding-left:1.2rem}
        """;

    /// <param name="provider">The identity provider's name for a "Sign in with …" button; null when the gateway has none.</param>
    public static string SignIn(string to, string? error, string? provider = null) => Layout("Sign in to Jumpgate", $"""
        <h1>Sign in to Jumpgate</h1>
        {(error is null ? "" : $"<p id=\"error\" role=\"alert\"><strong>{Encode(error)}</strong></p>")}
        {(provider is null ? "" : $"<p><a id=\"sso\" class=\"button\" href=\"/signin/sso?to={Encode(Uri.EscapeDataString(to))}\">Sign in with {Encode(provider)}</a></p><p class=\"muted\">Or with a user token:</p>")}
        <form method="post" action="/signin">
          <label for="token">Your user token (<code>jgu_…</code>, as <code>jumpgate gateway add-user</code> or your admin gave it)</label>
          <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
          <input type="hidden" name="to" value="{Encode(to)}">
          <button type="submit">Sign in</button>
        </form>
        <p class="muted">Or run <code>jumpgate open HOST SERVICE</code>, which prints a one-time sign-in link.</p>
        """);

    public static string SignOut(string action) => Layout("Sign out of Jumpgate", $"""
        <h1>Sign out of Jumpgate?</h1>
        <p>This ends your session here, on the gateway and on every service you opened from that sign-in.</p>
        <form method="post" action="{Encode(action)}"><button type="submit">Sign out</button></form>
        """);

    public static string Error(int status, string title, string detail) => Layout(title, $"""
        <h1>{Encode(title)}</h1>
        <p id="detail">{Encode(detail)}</p>
        <p class="muted">HTTP {status} from the Jumpgate gateway.</p>
        """);

    /// <param name="formTarget">Origins (CSP sources) besides this one that a form on the page may end up at (a redirect after the post).</param>
    public static Task WriteAsync(HttpContext http, int status, string html, string? formTarget = null)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        // The gateway's own pages are never framed and load nothing from elsewhere.
        http.Response.Headers.ContentSecurityPolicy = $"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{(formTarget is null ? "" : " " + formTarget)}; frame-ancestors 'none'";
        return http.Response.WriteAsync(html, http.RequestAborted);
    }

    public static Task ErrorAsync(HttpContext http, int status, string title, string detail) =>
        WriteAsync(http, status, Error(status, title, detail));

    private static string Layout(string title, string body) => $"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>{Encode(title)}</title><style>{Style}</style></head>
        <body>{body}</body></html>
        """;

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
