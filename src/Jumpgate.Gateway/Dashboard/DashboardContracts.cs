using System.Text.Json.Serialization;
using Jumpgate.Core.Api;
using Jumpgate.Core.Audit;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>
/// What one dashboard page is shown at one moment, already cut to what its viewer may see
/// (<see cref="DashboardView"/>). Times are absolute, so the page ages them itself and an
/// unchanged gateway sends nothing.
/// </summary>
internal sealed record DashboardSnapshot
{
    public required string Viewer { get; init; }
    public required bool Admin { get; init; }
    public required IReadOnlyList<AgentRow> Agents { get; init; }
    public required IReadOnlyList<HostRow> Hosts { get; init; }
    public required IReadOnlyList<StreamRow> Streams { get; init; }

    /// <summary>Admins only: moves whenever this gateway audits something or the store changes, so the page fetches its admin lists again.</summary>
    public long? AdminVersion { get; init; }
}

/// <summary>A connected agent. <see cref="Address"/> is an admin's to see; a user's view leaves it out.</summary>
internal sealed record AgentRow(string Name, string? Version, string? Address, DateTimeOffset Connected, DateTimeOffset LastHeartbeat, int Trunks, IReadOnlyList<string> Hosts);

internal sealed record HostRow(string Name, bool Online, DateTimeOffset? LastSeen, IReadOnlyList<ServiceRow> Services);

/// <summary>A host's service; <see cref="Url"/> is set for an HTTP service a user may open.</summary>
internal sealed record ServiceRow(string Name, bool Http, string? Url, IReadOnlyList<ReplicaRow> Replicas);

internal sealed record ReplicaRow(string Agent, bool Healthy, string? LastFailure, int OpenStreams);

/// <summary>A stream carried now; bytes are those so far, each way, and the page derives the rate from two snapshots.</summary>
internal sealed record StreamRow(long Id, string User, string Host, string Service, string? Agent, long BytesUp, long BytesDown, DateTimeOffset Started);

/// <summary>The last hour, one point per sample: open streams, and bytes moved (both ways) since the sample before.</summary>
internal sealed record DashboardHistoryView(int IntervalSeconds, DateTimeOffset? Last, IReadOnlyList<int> Streams, IReadOnlyList<long> Bytes);

/// <summary>An admin's lists: principals to disable, tokens to revoke, and the audit tail as filtered.</summary>
internal sealed record AdminPanel(IReadOnlyList<PrincipalView> Users, IReadOnlyList<PrincipalView> Agents, IReadOnlyList<TokenView> Tokens, IReadOnlyList<AuditEvent> Audit);

/// <summary>The answer to an admin action from the page.</summary>
internal sealed record ActionResult(bool Ok, string Message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DashboardSnapshot))]
[JsonSerializable(typeof(DashboardHistoryView))]
[JsonSerializable(typeof(AdminPanel))]
[JsonSerializable(typeof(ActionResult))]
internal sealed partial class DashboardJson : JsonSerializerContext;
