using System.Text.Json.Serialization;

namespace Jumpgate.Core.Audit;

/// <summary>
/// One audit event, as a line of audit.jsonl, a row of the store's audit table and an entry of
/// the admin API's audit answer. It never holds a token or a secret: principals are named,
/// connections are addressed, nothing else.
/// </summary>
internal sealed record AuditEvent
{
    /// <summary>A stream: outcome opened, closed, revoked (closed by the gateway), denied (rules) or refused (unavailable).</summary>
    public const string KindStream = "stream";

    /// <summary>An agent's session: outcome connected, disconnected, revoked, host_refused, or subdomain_refused.</summary>
    public const string KindAgent = "agent";

    /// <summary>An authentication that failed (outcome failed), a source reaching the rate limit (throttled), or the count of attempts refused while limited (throttled_summary, one a minute per source).</summary>
    public const string KindAuth = "auth";

    /// <summary>A browser's sign-in: outcome signed_in or failed.</summary>
    public const string KindSignIn = "signin";

    /// <summary>An HTTP request the gateway refused before it reached the service (outcome denied), or a WebSocket (opened, closed).</summary>
    public const string KindHttp = "http";

    /// <summary>An SSH host's keys as an agent read them (docs/threat-model.md, "Host keys"): outcome recorded (the first), changed (different from the recorded ones, which stay), or reverted (the recorded ones again).</summary>
    public const string KindHostKey = "host_key";

    /// <summary>A change an admin made (outcome names it: grant, token_revoke, …), through the API or on the store directly.</summary>
    public const string KindAdmin = "admin";

    public required DateTimeOffset Time { get; init; }

    public required string Event { get; init; }

    public required string Outcome { get; init; }

    public string? User { get; init; }

    public string? Agent { get; init; }

    /// <summary>The admin who made a change, or tried to: an admin's name, or local:OSUSER for a command run on the store itself.</summary>
    public string? Admin { get; init; }

    /// <summary>The peer's address and port.</summary>
    public string? Source { get; init; }

    public string? Host { get; init; }

    public string? Service { get; init; }

    public DateTimeOffset? Start { get; init; }

    public DateTimeOffset? End { get; init; }

    /// <summary>Bytes from the user to the host.</summary>
    public long? BytesUp { get; init; }

    /// <summary>Bytes from the host to the user.</summary>
    public long? BytesDown { get; init; }

    /// <summary>Why, in words: the refusal a peer saw, or how a stream ended.</summary>
    public string? Reason { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AuditEvent))]
[JsonSerializable(typeof(List<AuditEvent>))]
internal sealed partial class AuditJson : JsonSerializerContext;
