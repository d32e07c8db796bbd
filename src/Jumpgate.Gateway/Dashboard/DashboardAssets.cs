using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>
/// The dashboard's static files, embedded in the gateway's assembly (Assets/, plain HTML, CSS and
/// JavaScript: no build step, no CDN, nothing to install beside the binary), read once.
/// </summary>
internal static class DashboardAssets
{
    public sealed record Asset(byte[] Content, string ContentType, string ETag);

    private static readonly FrozenDictionary<string, Asset> Files = new Dictionary<string, Asset>
    {
        ["app.js"] = Load("app.js", "text/javascript; charset=utf-8"),
        ["app.css"] = Load("app.css", "text/css; charset=utf-8"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The page's HTML, with placeholders <see cref="DashboardEndpoints"/> fills.</summary>
    public static string PageTemplate { get; } = System.Text.Encoding.UTF8.GetString(Read("index.html"));

    /// <summary>Answers <c>/dashboard/NAME</c> for an embedded file; false for any other name.</summary>
    public static async Task<bool> TryServeAsync(HttpContext http, string name)
    {
        if (!Files.TryGetValue(name, out var asset))
        {
            return false;
        }
        http.Response.Headers.ETag = asset.ETag;
        http.Response.Headers.CacheControl = "no-cache";
        if (http.Request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            return true;
        }
        http.Response.ContentType = asset.ContentType;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.ContentLength = asset.Content.Length;
        await http.Response.Body.WriteAsync(asset.Content, http.RequestAborted);
        return true;
    }

    private static Asset Load(string name, string contentType)
    {
        var content = Read(name);
        return new Asset(content, contentType, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
    }

    private static byte[] Read(string name)
    {
        using var stream = typeof(DashboardAssets).Assembly.GetManifestResourceStream("dashboard/" + name)
            ?? throw new InvalidOperationException($"the dashboard's {name} is not embedded in the gateway; the build is broken");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
