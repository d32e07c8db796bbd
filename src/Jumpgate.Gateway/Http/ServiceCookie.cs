namespace Jumpgate.Gateway.Http;

/// <summary>
/// A service's <c>Set-Cookie</c> as the browser gets it. Every service is same-site with its
/// neighbours and the gateway, so a cookie with <c>Domain=</c> the gateway's domain would reach
/// all of them: planted sessions, shadowed XSRF tokens. A service's cookies are therefore always
/// host-only (the Domain attribute is removed), and one named like the gateway's own session
/// cookie is dropped.
/// </summary>
internal static class ServiceCookie
{
    /// <summary>The cookie without any Domain attribute, or null for one no service may set.</summary>
    public static string? HostOnly(string setCookie)
    {
        var attributes = setCookie.Split(';');
        var pair = attributes[0];
        var nameEnd = pair.IndexOf('=', StringComparison.Ordinal);
        // Browsers compare cookie prefixes such as __Host- without regard to case, so the gateway does too.
        if ((nameEnd < 0 ? pair : pair[..nameEnd]).Trim().Equals(BrowserSessions.CookieName, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (!attributes.Skip(1).Any(IsDomain))
        {
            return setCookie;
        }
        return string.Join(';', attributes.Where((attribute, index) => index == 0 || !IsDomain(attribute)));
    }

    /// <summary>An attribute whose name is Domain (RFC 6265 §5.2: trimmed, case-insensitive, with or without a value).</summary>
    private static bool IsDomain(string attribute)
    {
        var nameEnd = attribute.IndexOf('=', StringComparison.Ordinal);
        return (nameEnd < 0 ? attribute : attribute[..nameEnd]).Trim().Equals("Domain", StringComparison.OrdinalIgnoreCase);
    }
}
