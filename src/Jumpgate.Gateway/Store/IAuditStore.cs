using Jumpgate.Core.Audit;

namespace Jumpgate.Gateway.Store;

/// <summary>What `jumpgate gateway audit` asks for: every filter is optional.</summary>
internal sealed record AuditQuery(string? User = null, string? Host = null, DateTimeOffset? Since = null, int Limit = 1000, string? Event = null);

/// <summary>The audit table: the same events as audit.jsonl, queryable, bounded to the newest <see cref="MaxRows"/>.</summary>
internal interface IAuditStore
{
    /// <summary>A million events (a few hundred MiB at most); older ones remain in the rotated audit.jsonl files until those rotate out.</summary>
    public const long MaxRows = 1_000_000;

    /// <summary>Appends a batch at once (one transaction) and drops what is older than the newest <see cref="MaxRows"/>.</summary>
    void Append(IReadOnlyList<AuditEvent> events);

    /// <summary>The newest events that match, oldest first.</summary>
    IReadOnlyList<AuditEvent> Query(AuditQuery query);
}
