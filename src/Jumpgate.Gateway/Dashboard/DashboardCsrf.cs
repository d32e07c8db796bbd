using System.Security.Cryptography;
using System.Text;
using Jumpgate.Gateway.Http;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>
/// The dashboard's CSRF token: an HMAC of a fixed label keyed with the session cookie itself, so
/// it is bound to one session, needs no state (any gateway on the store checks it, a restart
/// keeps it) and ends with the session. Another site cannot read the cookie or the page that
/// carries the token, so it cannot make one; the page sends it in a header with every action.
/// </summary>
internal static class DashboardCsrf
{
    public const string Header = "X-Jumpgate-Csrf";

    private static readonly byte[] Label = "jumpgate dashboard actions v1"u8.ToArray();

    /// <summary>The token for this request's session cookie; null without one.</summary>
    public static string? For(HttpContext http) =>
        http.Request.Cookies.TryGetValue(BrowserSessions.CookieName, out var cookie) && !string.IsNullOrEmpty(cookie)
            ? Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(cookie), Label))
            : null;

    /// <summary>Whether the request carries its session's token; compared in constant time.</summary>
    public static bool Matches(HttpContext http)
    {
        var expected = For(http);
        var presented = http.Request.Headers[Header].ToString();
        return expected is not null && presented.Length == expected.Length
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(presented), Encoding.ASCII.GetBytes(expected));
    }
}
