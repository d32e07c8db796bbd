using Microsoft.Extensions.Logging;

namespace Jumpgate.Agent.Hosting;

/// <summary>The agent's log events: one line per event. Ids are stable; never reuse one.</summary>
internal static partial class AgentLog
{
    [LoggerMessage(101, LogLevel.Information, "connected to {Gateway} as {Agent}; serving {Hosts}", EventName = "Connected")]
    public static partial void Connected(ILogger logger, string gateway, string agent, string hosts);

    [LoggerMessage(102, LogLevel.Warning, "gateway unreachable ({Reason}), retrying in {Seconds:0.0} s", EventName = "Retrying")]
    public static partial void Retrying(ILogger logger, string reason, double seconds);

    [LoggerMessage(103, LogLevel.Error, "the gateway refused this agent: {Reason}; retrying in {Seconds:0.0} s", EventName = "Refused")]
    public static partial void Refused(ILogger logger, string reason, double seconds);

    [LoggerMessage(104, LogLevel.Warning, "the gateway refused a host: {Reason}", EventName = "HostRefused")]
    public static partial void HostRefused(ILogger logger, string reason);

    [LoggerMessage(105, LogLevel.Warning, "lost the gateway {Gateway}: {Reason}", EventName = "Disconnected")]
    public static partial void Disconnected(ILogger logger, string gateway, string reason);

    [LoggerMessage(106, LogLevel.Debug, "stream to {Host}:{Service} ({Address}) opened", EventName = "StreamOpened")]
    public static partial void StreamOpened(ILogger logger, string host, string service, string address);

    [LoggerMessage(107, LogLevel.Warning, "could not open {Host}:{Service}: {Reason}", EventName = "StreamFailed")]
    public static partial void StreamFailed(ILogger logger, string host, string service, string reason);

    [LoggerMessage(108, LogLevel.Debug, "stream to {Host}:{Service} closed: {Outcome}, {ToService} bytes to the service, {ToUser} bytes to the user", EventName = "StreamClosed")]
    public static partial void StreamClosed(ILogger logger, string host, string service, string outcome, long toService, long toUser);

    [LoggerMessage(109, LogLevel.Information, "stopping: {Count} open streams have {Seconds:0.#} s to finish", EventName = "Stopping")]
    public static partial void Stopping(ILogger logger, int count, double seconds);

    [LoggerMessage(110, LogLevel.Error, "{Work} failed", EventName = "WorkFailed")]
    public static partial void WorkFailed(ILogger logger, string work, Exception exception);

    [LoggerMessage(111, LogLevel.Warning, "{Host}:{Service} is unhealthy: {Reason}", EventName = "ServiceUnhealthy")]
    public static partial void ServiceUnhealthy(ILogger logger, string host, string service, string reason);

    [LoggerMessage(112, LogLevel.Information, "{Host}:{Service} is healthy again", EventName = "ServiceHealthy")]
    public static partial void ServiceHealthy(ILogger logger, string host, string service);

    [LoggerMessage(113, LogLevel.Information, "metrics on {Address}/metrics", EventName = "MetricsListening")]
    public static partial void MetricsListening(ILogger logger, string address);

    [LoggerMessage(130, LogLevel.Debug, "read the host keys of {Host}:ssh: {Keys}", EventName = "HostKeysRead")]
    public static partial void HostKeysRead(ILogger logger, string host, string keys);

    [LoggerMessage(131, LogLevel.Warning, "could not read the host keys of {Host}:ssh: {Reason}; the gateway cannot vouch for them until they are read", EventName = "HostKeysUnread")]
    public static partial void HostKeysUnread(ILogger logger, string host, string reason);

    [LoggerMessage(132, LogLevel.Information, "sent the SSH host keys of {Sent} of {Count} hosts to {Gateway}", EventName = "HostKeysSent")]
    public static partial void HostKeysSent(ILogger logger, int sent, int count, string gateway);

    [LoggerMessage(133, LogLevel.Debug, "direct session to {Host}:{Service} opened", EventName = "SessionOpened")]
    public static partial void SessionOpened(ILogger logger, string host, string service);

    [LoggerMessage(134, LogLevel.Debug, "direct session to {Host}:{Service} closed after {Streams} streams", EventName = "SessionClosed")]
    public static partial void SessionClosed(ILogger logger, string host, string service, long streams);
}
