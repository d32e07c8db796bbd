using System.Net;
using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Core.Metrics;

/// <summary>
/// Where a plain-HTTP <c>/metrics</c> listener may listen. It has no TLS and no token, so a
/// loopback address is taken as it is and any other only with <c>public: true</c> beside it: the
/// series name agents, hosts and services, which a stranger should not be able to read by a typo.
/// </summary>
internal static class MetricsListen
{
    /// <summary>Reads <paramref name="key"/> of <paramref name="mapping"/> (e.g. 127.0.0.1:9464), reporting errors into <paramref name="file"/>; null when absent or wrong.</summary>
    public static IPEndPoint? Parse(YamlFile file, YamlMappingNode mapping, string key, string field, bool isPublic, string publicField)
    {
        if (file.String(mapping, key, field) is not { } text)
        {
            return null;
        }
        var node = YamlFile.Get(mapping, key);
        var host = text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) ? "127.0.0.1" + text["localhost".Length..] : text;
        var singleColon = host.StartsWith('[') || host.IndexOf(':', StringComparison.Ordinal) == host.LastIndexOf(':');
        if (!singleColon || !IPEndPoint.TryParse(host, out var endpoint) || (!host.StartsWith('[') && !host.Contains(':', StringComparison.Ordinal)))
        {
            file.Error(node, field, "expected an address and port such as 127.0.0.1:9464");
            return null;
        }
        if (!IPAddress.IsLoopback(endpoint.Address) && !isPublic)
        {
            file.Error(node, field, $"{text} is not a loopback address, and /metrics there has no TLS and no token; " +
                $"add `{publicField}: true` to serve it to the network on purpose, or use 127.0.0.1:{endpoint.Port}");
            return null;
        }
        return endpoint;
    }
}
