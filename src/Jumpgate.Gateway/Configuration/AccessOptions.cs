using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Gateway.Configuration;

/// <summary>
/// The <c>access:</c> section of gateway.yaml: how often live connections are re-checked against
/// the store, and how hard failed authentications are limited per source address.
/// </summary>
internal sealed record AccessOptions
{
    public const string Section = "access";

    /// <summary>How often every live stream and agent session is re-checked (revoked tokens, changed rules and groups). Default 2 s: a revocation closes the live streams it affects within 5 s, at one store read per live token per pass.</summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many failed authentications an address may make at once before it is limited. Default 10: a person mistyping or an agent with a stale token retrying never reaches it.</summary>
    public int AuthFailureBurst { get; init; } = 10;

    /// <summary>Once limited, an address gets one more attempt every this long. Default 6 s (10 a minute): 14,400 guesses a day against a 256-bit secret.</summary>
    public TimeSpan AuthFailureInterval { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Reads the section (every key optional), reporting errors into <paramref name="file"/> with file, line, column and field.</summary>
    public static AccessOptions Parse(YamlFile file, YamlMappingNode root)
    {
        var defaults = new AccessOptions();
        if (file.Mapping(root, Section, Section) is not { } section)
        {
            return defaults;
        }
        file.RejectUnknown(section, Section, "recheck_interval", "auth_failure_burst", "auth_failure_interval");
        return new AccessOptions
        {
            RecheckInterval = Within(file, section, "recheck_interval", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1), "100ms to 1m") ?? defaults.RecheckInterval,
            AuthFailureBurst = file.Int(section, "auth_failure_burst", $"{Section}.auth_failure_burst", 1, 100_000) ?? defaults.AuthFailureBurst,
            AuthFailureInterval = Within(file, section, "auth_failure_interval", TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1), "10ms to 1h") ?? defaults.AuthFailureInterval,
        };
    }

    private static TimeSpan? Within(YamlFile file, YamlMappingNode section, string key, TimeSpan min, TimeSpan max, string range)
    {
        var field = $"{Section}.{key}";
        var value = file.Duration(section, key, field);
        if (value is { } v && (v < min || v > max))
        {
            file.Error(YamlFile.Get(section, key), field, $"must be from {range}");
            return null;
        }
        return value;
    }
}
