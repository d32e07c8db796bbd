using System.Text.Json.Serialization;

namespace Jumpgate.Cli.Fleet;

/// <summary>What the laptop knows of a fleet: the hosts of the last applied file and what each last told us.</summary>
internal sealed record FleetState
{
    public required string Name { get; init; }
    public string Placement { get; init; } = "any";

    /// <summary>The fleet file applied last, as an absolute path.</summary>
    public required string Source { get; init; }
    public required DateTimeOffset AppliedAt { get; init; }
    public string? ProxyJump { get; init; }
    public required IReadOnlyList<HostState> Hosts { get; init; }
}

internal sealed record HostState
{
    /// <summary>The host as the fleet file names it, and the name ssh is given.</summary>
    public required string Name { get; init; }
    public string? User { get; init; }
    public int? Port { get; init; }
    public int? Blocks { get; init; }
    public bool ThroughGateway { get; init; }
    public bool ThroughProxyJump { get; init; }

    /// <summary>
    /// Where the fleet's other hosts reach this one: the name in the fleet file, or for a Jumpgate host
    /// (known to the laptop only by its .jg name) the first address it reported.
    /// </summary>
    public string? Address { get; init; }

    /// <summary>Whether the host holds the fleet key and the ssh config that name the other hosts (multi-node jobs need it).</summary>
    public bool PeerAccess { get; init; }

    public bool Reachable { get; init; }

    /// <summary>Why the last probe failed, in ssh's words; null when it succeeded.</summary>
    public string? Error { get; init; }
    public DateTimeOffset? LastProbe { get; init; }

    /// <summary>The last time the host answered: kept through failures, so a dead host shows since when.</summary>
    public DateTimeOffset? LastSuccess { get; init; }

    /// <summary>The host key's SHA-256 fingerprint as recorded in the fleet's known_hosts.</summary>
    public string? HostKey { get; init; }

    /// <summary>The facts of the last successful probe (kept while the host is unreachable).</summary>
    public HostFacts? Facts { get; init; }
    public GpuInventory? Gpus { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(FleetState))]
[JsonSerializable(typeof(IReadOnlyList<FleetState>))]
internal sealed partial class FleetJson : JsonSerializerContext;
