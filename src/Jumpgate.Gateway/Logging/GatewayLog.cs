using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Logging;

/// <summary>The gateway's log events. Ids are stable; never reuse one.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(1, LogLevel.Information, "listening on https://{Endpoint} for *.{Domain}; certificate fingerprint {Fingerprint}", EventName = "Listening")]
    public static partial void Listening(ILogger logger, string endpoint, string domain, string fingerprint);

    [LoggerMessage(2, LogLevel.Information, "agent {Agent} connected from {Remote}; serving {Hosts}", EventName = "AgentConnected")]
    public static partial void AgentConnected(ILogger logger, string agent, string? remote, string hosts);

    [LoggerMessage(3, LogLevel.Information, "agent {Agent} disconnected: {Reason}", EventName = "AgentDisconnected")]
    public static partial void AgentDisconnected(ILogger logger, string agent, string reason);

    [LoggerMessage(4, LogLevel.Warning, "refused host {Host} from agent {Agent}: {Reason}", EventName = "AgentHostRefused")]
    public static partial void AgentHostRefused(ILogger logger, string agent, string host, string reason);

    [LoggerMessage(11, LogLevel.Warning, "refused subdomain {Label} for {Service} on {Host} from agent {Agent}: {Reason}", EventName = "AgentSubdomainRefused")]
    public static partial void AgentSubdomainRefused(ILogger logger, string agent, string host, string service, string label, string reason);

    [LoggerMessage(5, LogLevel.Warning, "refused {Kind} connection from {Remote}: {Reason}", EventName = "HandshakeRefused")]
    public static partial void HandshakeRefused(ILogger logger, string kind, string? remote, string reason);

    [LoggerMessage(6, LogLevel.Information, "stream {User} -> {Host}:{Service} via {Agent} from {Remote} opened", EventName = "StreamOpened")]
    public static partial void StreamOpened(ILogger logger, string user, string host, string service, string agent, string? remote);

    [LoggerMessage(7, LogLevel.Information, "stream {User} -> {Host}:{Service} via {Agent} closed after {Seconds:0.###} s: {Outcome}, {ToService} bytes to the service, {ToUser} bytes to the user", EventName = "StreamClosed")]
    public static partial void StreamClosed(ILogger logger, string user, string host, string service, string agent, double seconds, string outcome, long toService, long toUser);

    [LoggerMessage(8, LogLevel.Information, "stream {User} -> {Host}:{Service} refused: {Reason}", EventName = "StreamRefused")]
    public static partial void StreamRefused(ILogger logger, string user, string host, string service, string reason);

    [LoggerMessage(9, LogLevel.Debug, "a trunk of agent {Agent} failed while a stream opened; trying another", EventName = "StaleTrunk")]
    public static partial void StaleTrunk(ILogger logger, string agent);

    [LoggerMessage(10, LogLevel.Information, "stopping: no new connections; open streams have {Seconds:0.#} s to finish", EventName = "Stopping")]
    public static partial void Stopping(ILogger logger, double seconds);

    [LoggerMessage(20, LogLevel.Warning, "audit queue full: {Count} events dropped", EventName = "AuditDropped")]
    public static partial void AuditDropped(ILogger logger, long count);

    [LoggerMessage(21, LogLevel.Error, "could not write {Count} audit events: {Reason}", EventName = "AuditWriteFailed")]
    public static partial void AuditWriteFailed(ILogger logger, int count, string reason);

    [LoggerMessage(22, LogLevel.Warning, "rate-limiting authentications from {Address}: {Capacity} failures within {Seconds:0} s", EventName = "AuthRateLimited")]
    public static partial void AuthRateLimited(ILogger logger, string address, int capacity, double seconds);

    [LoggerMessage(23, LogLevel.Information, "closing {What}: {Reason}", EventName = "AccessRevoked")]
    public static partial void AccessRevoked(ILogger logger, string what, string reason);

    [LoggerMessage(24, LogLevel.Error, "could not re-check live connections against the store: {Reason}", EventName = "AccessCheckFailed")]
    public static partial void AccessCheckFailed(ILogger logger, string reason);

    [LoggerMessage(25, LogLevel.Information, "stream {User} -> {Host}:{Service} denied: {Reason}", EventName = "StreamDenied")]
    public static partial void StreamDenied(ILogger logger, string user, string host, string service, string reason);

    [LoggerMessage(40, LogLevel.Warning, "refused {Count} new streams of user {User} from {Remote}: {Reason}", EventName = "StreamsRefused")]
    public static partial void StreamsRefused(ILogger logger, string user, string? remote, int count, string reason);

    [LoggerMessage(41, LogLevel.Information, "closed the trunk of user {User} from {Remote}: {Reason}", EventName = "UserTrunkClosed")]
    public static partial void UserTrunkClosed(ILogger logger, string user, string? remote, string reason);

    [LoggerMessage(42, LogLevel.Error, "a stream on the trunk of user {User} from {Remote} failed", EventName = "UserTrunkStreamFailed")]
    public static partial void UserTrunkStreamFailed(ILogger logger, string user, string? remote, Exception exception);

    [LoggerMessage(30, LogLevel.Information, "http {User} -> {Host}:{Service} denied: {Reason}", EventName = "HttpDenied")]
    public static partial void HttpDenied(ILogger logger, string user, string host, string service, string reason);

    [LoggerMessage(43, LogLevel.Warning, "agent {Agent}: {Host}:{Service} is unhealthy ({Reason}); new streams go to its other replicas", EventName = "ReplicaUnhealthy")]
    public static partial void ReplicaUnhealthy(ILogger logger, string agent, string host, string service, string reason);

    [LoggerMessage(44, LogLevel.Information, "agent {Agent}: {Host}:{Service} is healthy again", EventName = "ReplicaHealthy")]
    public static partial void ReplicaHealthy(ILogger logger, string agent, string host, string service);

    [LoggerMessage(45, LogLevel.Information, "stream {User} -> {Host}:{Service}: agent {Agent} could not open it ({Reason}); trying agent {Next}", EventName = "StreamRetried")]
    public static partial void StreamRetried(ILogger logger, string user, string host, string service, string agent, string reason, string next);

    [LoggerMessage(46, LogLevel.Information, "metrics on {Address}/metrics", EventName = "MetricsListening")]
    public static partial void MetricsListening(ILogger logger, string address);

    [LoggerMessage(90, LogLevel.Error, "the store's database is out of reach: {Reason}; serving open streams and the credentials and rules already checked, refusing those it cannot check", EventName = "StoreLost")]
    public static partial void StoreLost(ILogger logger, string reason);

    [LoggerMessage(91, LogLevel.Error, "the store's database has been out of reach for {Seconds:0} s: {Reason}; {Refused} authentications refused, {AuditRows} audit events only in audit.jsonl", EventName = "StoreStillLost")]
    public static partial void StoreStillLost(ILogger logger, double seconds, long refused, long auditRows, string reason);

    [LoggerMessage(92, LogLevel.Information, "the store's database is back after {Seconds:0.#} s; {Refused} authentications were refused, {AuditRows} audit events are only in audit.jsonl", EventName = "StoreBack")]
    public static partial void StoreBack(ILogger logger, double seconds, long refused, long auditRows);

    [LoggerMessage(93, LogLevel.Information, "exposed {Name} listening on {Address} for {Host}:{Service}, from {Allow}", EventName = "ExposureOpened")]
    public static partial void ExposureOpened(ILogger logger, string name, string address, string host, string service, string allow);

    [LoggerMessage(94, LogLevel.Information, "exposed {Name} closed port {Port}", EventName = "ExposureClosed")]
    public static partial void ExposureClosed(ILogger logger, string name, int port);

    [LoggerMessage(95, LogLevel.Error, "exposed {Name} is not served by this gateway: {Reason}; free the port or `jumpgate gateway unexpose {Name}` and expose it on another --port", EventName = "ExposureFailed")]
    public static partial void ExposureFailed(ILogger logger, string name, string reason);

    [LoggerMessage(130, LogLevel.Warning, "refused a leg from {Remote} for stream {User} -> {Host}:{Service}: {Reason}", EventName = "DirectLegRefused")]
    public static partial void DirectLegRefused(ILogger logger, string? remote, string user, string host, string service, string reason);

    [LoggerMessage(131, LogLevel.Information, "stream {User} -> {Host}:{Service} goes through the gateway, not direct: {Reason}", EventName = "DirectFallback")]
    public static partial void DirectFallback(ILogger logger, string user, string host, string service, string reason);

    [LoggerMessage(150, LogLevel.Information, "recorded the host keys of {Host}, read by agent {Agent}: {Keys}", EventName = "HostKeysRecorded")]
    public static partial void HostKeysRecorded(ILogger logger, string host, string agent, string keys);

    [LoggerMessage(151, LogLevel.Warning, "the host keys of {Host} changed: agent {Agent} read {Read}, the gateway recorded {Recorded}; it vouches for the recorded keys until an admin accepts the new ones with `jumpgate gateway host-keys accept HOST`", EventName = "HostKeysChanged")]
    public static partial void HostKeysChanged(ILogger logger, string host, string agent, string read, string recorded);

    [LoggerMessage(152, LogLevel.Information, "agent {Agent} read the recorded host keys of {Host} again; the change waiting for an admin is withdrawn", EventName = "HostKeysReverted")]
    public static partial void HostKeysReverted(ILogger logger, string host, string agent);

    [LoggerMessage(153, LogLevel.Warning, "agent {Agent}: ignored host keys for {Host}: {Reason}", EventName = "HostKeysIgnored")]
    public static partial void HostKeysIgnored(ILogger logger, string agent, string host, string reason);
}
