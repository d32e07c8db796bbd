using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Gateway.Configuration;

/// <summary>
/// The <c>trunks:</c> section of gateway.yaml: how many streams a user's trunks (`jumpgate
/// forward`) may hold, and when an idle one is closed (docs/protocol.md, "Limits").
/// </summary>
internal sealed record TrunkOptions
{
    public const string Section = "trunks";

    /// <summary>Streams open at once on one user trunk. Default 256: a browser opens at most 256 connections in all, and a stream costs a few hundred bytes idle (1 MiB when its reader stalls).</summary>
    public int MaxStreams { get; init; } = 256;

    /// <summary>Streams open at once across all of one user's trunks. Default 1024: four busy `forward`s.</summary>
    public int MaxStreamsPerUser { get; init; } = 1024;

    /// <summary>New streams on one trunk that have not yet sent their whole request (the CLI sends it with the stream's first frame). Default 32.</summary>
    public int MaxPending { get; init; } = 32;

    /// <summary>The same across all of one user's trunks. Default 64.</summary>
    public int MaxPendingPerUser { get; init; } = 64;

    /// <summary>A user trunk with no streams that sends nothing for this long is closed; `forward` dials a new one when it next needs one. Default 10 min.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Reads the section (every key optional), reporting errors into <paramref name="file"/> with file, line, column and field.</summary>
    public static TrunkOptions Parse(YamlFile file, YamlMappingNode root)
    {
        var defaults = new TrunkOptions();
        if (file.Mapping(root, Section, Section) is not { } section)
        {
            return defaults;
        }
        file.RejectUnknown(section, Section, "max_streams", "max_streams_per_user", "max_pending", "max_pending_per_user", "idle_timeout");
        var idle = file.Duration(section, "idle_timeout", $"{Section}.idle_timeout");
        if (idle is { } i && (i < TimeSpan.FromSeconds(1) || i > TimeSpan.FromDays(1)))
        {
            file.Error(YamlFile.Get(section, "idle_timeout"), $"{Section}.idle_timeout", "must be from 1s to 1d");
            idle = null;
        }
        return new TrunkOptions
        {
            MaxStreams = file.Int(section, "max_streams", $"{Section}.max_streams", 1, 100_000) ?? defaults.MaxStreams,
            MaxStreamsPerUser = file.Int(section, "max_streams_per_user", $"{Section}.max_streams_per_user", 1, 1_000_000) ?? defaults.MaxStreamsPerUser,
            MaxPending = file.Int(section, "max_pending", $"{Section}.max_pending", 1, 10_000) ?? defaults.MaxPending,
            MaxPendingPerUser = file.Int(section, "max_pending_per_user", $"{Section}.max_pending_per_user", 1, 100_000) ?? defaults.MaxPendingPerUser,
            IdleTimeout = idle ?? defaults.IdleTimeout,
        };
    }
}
