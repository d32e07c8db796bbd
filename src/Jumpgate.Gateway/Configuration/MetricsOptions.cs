using System.Net;
using Jumpgate.Core.Config;
using Jumpgate.Core.Metrics;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Gateway.Configuration;

/// <summary>
/// The <c>metrics:</c> section of gateway.yaml: where <c>/metrics</c> is served. Off unless set:
/// the series name every agent, host and service (docs/metrics.md).
/// </summary>
internal sealed record MetricsOptions
{
    public const string Section = "metrics";

    /// <summary>A plain-HTTP listener of its own for <c>/metrics</c> (e.g. 127.0.0.1:9464, the exporter's usual port). Default none; a non-loopback address needs <see cref="Public"/>.</summary>
    public IPEndPoint? Listen { get; init; }

    /// <summary><c>public: true</c> lets <see cref="Listen"/> be a non-loopback address. Default false, so a typo does not publish the series.</summary>
    public bool Public { get; init; }

    /// <summary>A file holding the token a scraper sends as <c>Authorization: Bearer …</c> to get <c>/metrics</c> on the main HTTPS port. Default none: the main port does not serve it.</summary>
    public string? TokenFile { get; init; }

    public bool Enabled => Listen is not null || TokenFile is not null;

    public static MetricsOptions Parse(YamlFile file, YamlMappingNode root)
    {
        if (file.Mapping(root, Section, Section) is not { } section)
        {
            return new MetricsOptions();
        }
        file.RejectUnknown(section, Section, "listen", "public", "token_file");
        var isPublic = file.Bool(section, "public", $"{Section}.public") ?? false;
        var tokenFile = file.String(section, "token_file", $"{Section}.token_file");
        return new MetricsOptions
        {
            Listen = MetricsListen.Parse(file, section, "listen", $"{Section}.listen", isPublic, $"{Section}.public"),
            Public = isPublic,
            TokenFile = tokenFile is null ? null : file.ResolvePath(tokenFile),
        };
    }
}
