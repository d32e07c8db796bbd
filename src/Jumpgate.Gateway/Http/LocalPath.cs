namespace Jumpgate.Gateway.Http;

/// <summary>
/// Where the gateway may send a browser after a sign-in: a path on the same site. A browser reads
/// far more than "//host" as another site: it drops tabs and newlines anywhere in a URL
/// ("/\t/host" is "//host"), treats "\" as "/" ("/\host"), and something down the line may
/// decode once more ("/%2F/host", "/%5Chost", "/%09/host"). So a path is refused unless it is
/// printable ASCII without a backslash, and neither it nor its percent-decoded form starts with
/// two slashes or holds a control character.
/// </summary>
internal static class LocalPath
{
    /// <summary><paramref name="path"/> if it can only mean a path on this site, otherwise "/".</summary>
    public static string OrRoot(string? path) => IsSafe(path) ? path! : "/";

    public static bool IsSafe(string? path)
    {
        if (string.IsNullOrEmpty(path) || !StaysOnSite(path))
        {
            return false;
        }
        foreach (var c in path)
        {
            // Printable ASCII only (no spaces, no controls, nothing a browser would strip or map), and no backslash at all:
            // the paths the gateway itself puts in a link are escaped, so a legitimate one never has either.
            if (c is <= ' ' or > '~' or '\\')
            {
                return false;
            }
        }
        return StaysOnSite(Uri.UnescapeDataString(path));
    }

    /// <summary>One "/" then something other than a slash of either kind, and not a control character anywhere.</summary>
    private static bool StaysOnSite(string path) =>
        path.Length > 0 && path[0] == '/'
        && !(path.Length > 1 && path[1] is '/' or '\\')
        && !path.Any(char.IsControl);
}
