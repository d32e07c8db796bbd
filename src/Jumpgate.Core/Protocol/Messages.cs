using System.Text.Json.Serialization;

namespace Jumpgate.Core.Protocol;

/// <summary>What a connection is for; the first frame after the preface says it.</summary>
internal static class HelloType
{
    /// <summary>An agent's one long-lived control connection.</summary>
    public const string Agent = "agent";

    /// <summary>An agent's connection that carries many streams, each opened by the gateway (docs/protocol.md, "Trunks").</summary>
    public const string AgentTrunk = "agent-trunk";

    /// <summary>One user's stream to a host's service (what `jumpgate proxy` opens).</summary>
    public const string Connect = "connect";

    /// <summary>A user's connection that carries many streams, each opened by the user (what `jumpgate forward` keeps).</summary>
    public const string UserTrunk = "user-trunk";
}

/// <summary>The first frame on every tunnel connection. Which fields matter depends on <see cref="Type"/>.</summary>
internal sealed record Hello
{
    public required string Type { get; init; }
    public required string Token { get; init; }
    public string? Version { get; init; }

    /// <summary>agent-trunk: the session id the gateway gave the agent's control connection.</summary>
    public string? Session { get; init; }

    /// <summary>connect: the host and service the user wants.</summary>
    public string? Host { get; init; }
    public string? Service { get; init; }

    /// <summary>connect: only check that the stream could be opened (host online, service declared), open nothing.</summary>
    public bool Probe { get; init; }

    /// <summary>connect: carry the stream on a direct leg (docs/protocol.md, "Direct streams") instead of this connection.</summary>
    public bool Direct { get; init; }

    /// <summary>connect (with <see cref="Direct"/>): plain legs if the service is <c>ssh</c> (docs/protocol.md, "Plain legs").</summary>
    public bool Plain { get; init; }

    /// <summary>connect (with <see cref="Direct"/>): if no direct leg can be made, carry the stream on this connection and say why.</summary>
    public bool Fallback { get; init; }

    /// <summary>agent: it can dial plain legs (docs/protocol.md, "Plain legs").</summary>
    public bool PlainLegs { get; init; }

    /// <summary>agent: it serves direct sessions, many streams to one service inside one direct leg pair (docs/protocol.md, "Direct sessions").</summary>
    public bool DirectSessions { get; init; }

    /// <summary>agent: the fingerprint of the certificate the agent presents on direct legs, so the gateway can vouch for it.</summary>
    public string? Certificate { get; init; }

    /// <summary>agent: the hosts this agent serves.</summary>
    public IReadOnlyList<HostAnnouncement>? Hosts { get; init; }
}

internal sealed record HostAnnouncement
{
    public required string Name { get; init; }
    public required IReadOnlyList<ServiceAnnouncement> Services { get; init; }
}

internal sealed record ServiceAnnouncement
{
    public required string Name { get; init; }
    public int Port { get; init; }
    public bool Http { get; init; }

    /// <summary>http: a DNS label of the service's own, served instead of (and as well as) <c>service--host</c>.</summary>
    public string? Subdomain { get; init; }

    /// <summary>http: the Host header the service expects (its address and port as the agent reaches it).</summary>
    public string? UpstreamHost { get; init; }

    /// <summary>http: pass the browser's Host (and Origin) upstream instead of <see cref="UpstreamHost"/>.</summary>
    public bool PreserveHost { get; init; }

    /// <summary>
    /// http: the service's own token (e.g. Jupyter's), which the gateway adds to upstream requests
    /// so the browser never sees it. Sent over the agent's pinned TLS, kept in the gateway's memory
    /// only: never stored, listed or logged.
    /// </summary>
    public string? Token { get; init; }
}

/// <summary>The gateway's answer to a <see cref="Hello"/>, and the agent's answer to an <see cref="OpenRequest"/>.</summary>
internal sealed record Reply
{
    public bool Ok { get; init; }

    /// <summary>A sentence a person can act on; never names which part of a credential was wrong.</summary>
    public string? Error { get; init; }

    /// <summary>agent: the name the token belongs to, the session id for its trunks, how many trunks to keep, and the gateway's timings.</summary>
    public string? Agent { get; init; }
    public string? Session { get; init; }
    public int HeartbeatMs { get; init; }
    public int PoolSize { get; init; }

    /// <summary>user-trunk: the gateway closes the trunk once it has had no streams and sent nothing for this long; 0 if it never does.</summary>
    public long IdleTimeoutMs { get; init; }

    /// <summary>agent: hosts the gateway refused, each with the reason.</summary>
    public IReadOnlyList<string>? Refused { get; init; }

    /// <summary>A direct stream (user side): where to join it, how to prove it is ours, and whose certificate to expect.</summary>
    public DirectTicket? Direct { get; init; }

    /// <summary>A direct stream asked for with fallback that goes on this connection instead: why no direct leg was made.</summary>
    public string? Fallback { get; init; }

    public static Reply Success { get; } = new() { Ok = true };
    public static Reply Failure(string error) => new() { Ok = false, Error = error };
}

/// <summary>Frames on an agent's control connection, both ways.</summary>
internal sealed record ControlMessage
{
    public const string Ping = "ping";
    public const string Pong = "pong";

    /// <summary>Agent → gateway: a service's health check changed its verdict (docs/protocol.md, "Health").</summary>
    public const string Health = "health";

    /// <summary>Agent → gateway: the SSH host keys the agent read from a host's <c>ssh</c> service (docs/protocol.md, "Host keys").</summary>
    public const string HostKeys = "host-keys";

    public required string Type { get; init; }

    /// <summary>health, host-keys: which of the agent's services.</summary>
    public string? Host { get; init; }
    public string? Service { get; init; }

    /// <summary>health: whether the service now passes its check.</summary>
    public bool Healthy { get; init; }

    /// <summary>health: why the last check failed, in words (also sent once it is healthy again, as the last failure's reason).</summary>
    public string? Reason { get; init; }

    /// <summary>host-keys: each key as known_hosts writes it after the host name, <c>TYPE BASE64</c>.</summary>
    public IReadOnlyList<string>? Keys { get; init; }

    /// <summary>Agent → gateway: a stream inside a direct session opened, closed or was refused (docs/protocol.md, "Direct sessions").</summary>
    public const string SessionStream = "session-stream";

    /// <summary>session-stream: the direct session's id (its legs' meeting id).</summary>
    public string? Session { get; init; }

    /// <summary>session-stream: the stream's id inside the session.</summary>
    public long Stream { get; init; }

    /// <summary>
    /// session-stream: agent → gateway <c>opened</c>, <c>closed</c> (with the bytes each way), <c>refused</c> or
    /// <c>limited</c> (with the reason), <c>wanted</c> (streams wait for places); gateway → agent <c>granted</c>
    /// (with <see cref="Granted"/>, and the user's limit in <see cref="Reason"/> when it grants none) or <c>reset</c>.
    /// </summary>
    public string? Outcome { get; init; }

    /// <summary>session-stream, granted: how many streams the session may have opened in all so far (a running total, so a lost grant is made good by the next).</summary>
    public long? Granted { get; init; }

    public long BytesUp { get; init; }
    public long BytesDown { get; init; }
}

/// <summary>The first frame of every trunk stream: which host's service to join it to (user → gateway, gateway → agent).</summary>
internal sealed record OpenRequest
{
    public required string Host { get; init; }
    public required string Service { get; init; }

    /// <summary>user → gateway: carry this stream on a direct leg, not on the trunk.</summary>
    public bool Direct { get; init; }

    /// <summary>user → gateway: plain legs if the service is <c>ssh</c>.</summary>
    public bool Plain { get; init; }

    /// <summary>user → gateway: if no direct leg can be made, carry the stream on this trunk stream and say why.</summary>
    public bool Fallback { get; init; }

    /// <summary>
    /// user → gateway (with <see cref="Direct"/>): make a direct session if the agent serves them, so that this
    /// and later streams to the service travel inside one direct leg pair; otherwise a direct stream as asked.
    /// </summary>
    public bool Session { get; init; }

    /// <summary>gateway → agent: join the service to a direct leg with this ticket, not to the trunk stream.</summary>
    public DirectTicket? Leg { get; init; }
}

/// <summary>
/// What one end of a direct stream needs (docs/protocol.md, "Direct streams"). <see cref="Id"/> and
/// <see cref="Secret"/> pair the end's plain TCP leg at the gateway; <see cref="Key"/> is what the
/// user's end proves to the agent inside their end-to-end TLS; <see cref="Certificate"/> (user end
/// only) is the agent's certificate fingerprint, which the gateway vouches for.
/// </summary>
internal sealed record DirectTicket
{
    public required string Id { get; init; }
    public required string Secret { get; init; }
    public required string Key { get; init; }
    public string? Certificate { get; init; }

    /// <summary>The legs are plain (an SSH service): each end proves <see cref="Secret"/> to a fresh nonce, and no TLS runs across them.</summary>
    public bool Plain { get; init; }

    /// <summary>
    /// The legs carry a direct session: a trunk inside their TLS, whose every stream the agent joins to the
    /// one service the gateway authorised, never another (docs/protocol.md, "Direct sessions").
    /// </summary>
    public bool Session { get; init; }

    /// <summary>
    /// session: how many streams may be open at once inside it, the gateway's per-trunk limit; the agent keeps
    /// it, and `forward` puts a connection past it on legs of its own instead of into the full session.
    /// </summary>
    public int MaxStreams { get; init; }

    /// <summary>
    /// session (agent end): how many streams it may open before it hears more (a running total the
    /// gateway's <c>granted</c> reports raise); absent from a gateway that grants none, whose limits act after the fact.
    /// </summary>
    public long? Granted { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(Hello))]
[JsonSerializable(typeof(Reply))]
[JsonSerializable(typeof(ControlMessage))]
[JsonSerializable(typeof(OpenRequest))]
[JsonSerializable(typeof(DirectTicket))]
internal sealed partial class ProtocolJson : JsonSerializerContext;
