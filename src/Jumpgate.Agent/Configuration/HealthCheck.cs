using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Agent.Configuration;

/// <summary>
/// How the agent checks that a service next to it is alive, so the gateway sends new streams only
/// to replicas that can take them: a TCP connect (<c>tcp</c>, the default), or an HTTP GET of
/// <see cref="HttpPath"/> that must answer <see cref="Expect"/>. A service turns unhealthy after
/// <see cref="UnhealthyAfter"/> failed checks in a row and healthy again after <see cref="HealthyAfter"/>
/// good ones, so one slow answer does not move its streams.
/// </summary>
internal sealed record HealthCheck
{
    /// <summary>A connect every 5 s: a dead target is noticed within 15 s (3 failures), close to Docker's and Kubernetes' own defaults.</summary>
    public static HealthCheck Default { get; } = new();

    /// <summary>No checks: the service is always reported healthy (a service that logs every connect, for instance).</summary>
    public static HealthCheck Off { get; } = new() { Enabled = false };

    public bool Enabled { get; init; } = true;

    /// <summary>The path an HTTP check asks for (starts with /); null: a TCP connect.</summary>
    public string? HttpPath { get; init; }

    /// <summary>The status an HTTP check must answer. Default 200.</summary>
    public int Expect { get; init; } = 200;

    /// <summary>Time between checks. Default 5 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one check may take before it counts as failed. Default 2 s, at most the interval.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Failed checks in a row that make a healthy service unhealthy. Default 3.</summary>
    public int UnhealthyAfter { get; init; } = 3;

    /// <summary>Good checks in a row that make an unhealthy service healthy again. Default 2.</summary>
    public int HealthyAfter { get; init; } = 2;

    private static readonly string[] Keys = ["http", "expect", "interval", "timeout", "unhealthy_after", "healthy_after"];

    /// <summary><c>health: tcp</c>, <c>health: off</c>, or a mapping of <see cref="Keys"/>, every key optional.</summary>
    public static HealthCheck Parse(YamlFile file, YamlNode node, string field)
    {
        if (node is YamlScalarNode { Value: var word })
        {
            switch (word)
            {
                case "tcp":
                    return Default;
                case "off":
                    return Off;
                default:
                    file.Error(node, field, "expected tcp, off, or a mapping such as { http: /api, expect: 200, interval: 5s }");
                    return Default;
            }
        }
        if (node is not YamlMappingNode mapping)
        {
            file.Error(node, field, "expected tcp, off, or a mapping such as { http: /api, expect: 200, interval: 5s }");
            return Default;
        }
        file.RejectUnknown(mapping, field, Keys);
        var path = file.String(mapping, "http", $"{field}.http");
        if (path is not null && (!path.StartsWith('/') || path.Any(c => char.IsControl(c) || c == ' ') || !Uri.TryCreate("http://x" + path, UriKind.Absolute, out _)))
        {
            file.Error(YamlFile.Get(mapping, "http"), $"{field}.http", $"'{path}' is not a path: it starts with / and has no spaces, e.g. /api/status");
            path = null;
        }
        var expect = file.Int(mapping, "expect", $"{field}.expect", 100, 599);
        if (expect is not null && YamlFile.Get(mapping, "http") is null)
        {
            file.Error(YamlFile.Get(mapping, "expect"), $"{field}.expect", "applies to an HTTP check only; add `http: /path`");
        }
        var interval = Between(file, mapping, "interval", $"{field}.interval", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)) ?? Default.Interval;
        var timeout = Between(file, mapping, "timeout", $"{field}.timeout", TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        if (timeout > interval)
        {
            file.Error(YamlFile.Get(mapping, "timeout"), $"{field}.timeout", $"must be at most the interval ({Durations.Humanize(interval)}): checks do not overlap");
        }
        return new HealthCheck
        {
            HttpPath = path,
            Expect = expect ?? Default.Expect,
            Interval = interval,
            // Unset, the timeout shrinks with a short interval, so a check never outlasts the next one.
            Timeout = timeout ?? (interval < Default.Timeout ? interval : Default.Timeout),
            UnhealthyAfter = file.Int(mapping, "unhealthy_after", $"{field}.unhealthy_after", 1, 100) ?? Default.UnhealthyAfter,
            HealthyAfter = file.Int(mapping, "healthy_after", $"{field}.healthy_after", 1, 100) ?? Default.HealthyAfter,
        };
    }

    private static TimeSpan? Between(YamlFile file, YamlMappingNode mapping, string key, string field, TimeSpan min, TimeSpan max)
    {
        var value = file.Duration(mapping, key, field);
        if (value is { } v && (v < min || v > max))
        {
            file.Error(YamlFile.Get(mapping, key), field, $"must be from {Durations.Humanize(min)} to {Durations.Humanize(max)}");
            return null;
        }
        return value;
    }
}
