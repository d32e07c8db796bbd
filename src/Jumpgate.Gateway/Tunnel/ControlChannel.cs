using System.Security.Cryptography;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.HostKeys;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Metrics;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// An agent's control connection (registration, heartbeats) and its trunks, the connections
/// that carry its streams. A session
/// lasts until its connection ends or the access monitor revokes it (agent disabled, token
/// revoked or expired).
/// </summary>
internal sealed class ControlChannel(
    GatewayOptions options,
    IPrincipalStore principals,
    IHostStore hosts,
    AgentRegistry registry,
    Authenticator authenticator,
    AccessMonitor monitor,
    HostKeyRecords hostKeys,
    DirectSessions sessions,
    AuditLog audit,
    StoreHealth store,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<ControlChannel> logger)
{
    private readonly SubdomainClaims _claims = new(principals, hosts, registry);
    private readonly Lock _claiming = new();

    public async Task RunAsync(TunnelConnection connection, Hello hello, Principal? agent, CancellationTokenSource handshake)
    {
        if (agent is null)
        {
            await connection.RefuseAsync(await authenticator.RefusalAsync(connection.Remote, connection.Closed));
            return;
        }
        var (accepted, refused) = Vet(agent, hello.Hosts ?? []);
        foreach (var reason in refused)
        {
            audit.Write(new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindAgent, Outcome = "host_refused", Agent = agent.Name, Source = connection.Remote, Reason = reason });
        }
        using var grant = monitor.TrackAgent(agent.Name, agent.TokenId);
        AgentSession session;
        IReadOnlyList<SubdomainRefusal> subdomainsRefused;
        lock (_claiming)
        {
            // Settling labels and registering them is one step, so two agents cannot both take a free label.
            subdomainsRefused = _claims.Settle(agent, accepted);
            session = new AgentSession(agent.Name, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), accepted)
            {
                // Only a well-formed fingerprint is vouched for; an agent that sends none cannot take direct streams.
                Certificate = Fingerprint.TryParse(hello.Certificate, out var certificate) ? certificate.ToString() : null,
                PlainLegs = hello.PlainLegs,
                DirectSessions = hello.DirectSessions,
                Version = hello.Version is { } version ? Truncate(new string([.. version.Select(c => char.IsControl(c) ? ' ' : c)])) : null,
                Remote = connection.Remote,
                Connected = time.GetUtcNow(),
                LastHeard = time.GetUtcNow(),
            };
            hosts.Replace(agent.Name, [.. accepted.Values], time.GetUtcNow());
            if (registry.Register(session))
            {
                metrics.AgentConnected(agent.Name);
            }
            metrics.AgentSession(agent.Name);
        }
        foreach (var refusal in subdomainsRefused)
        {
            GatewayLog.AgentSubdomainRefused(logger, agent.Name, refusal.Host, refusal.Service, refusal.Label, refusal.Reason);
            audit.Write(new AuditEvent
            {
                Time = time.GetUtcNow(), Event = AuditEvent.KindAgent, Outcome = "subdomain_refused", Agent = agent.Name, Source = connection.Remote,
                Host = refusal.Host, Service = refusal.Service, Reason = refusal.Reason,
            });
            refused.Add(refusal.Reason);
        }
        var ended = "the connection closed";
        var connected = time.GetUtcNow();
        try
        {
            await connection.ReplyAsync(new Reply
            {
                Ok = true,
                Agent = agent.Name,
                Session = session.Id,
                HeartbeatMs = (int)options.HeartbeatInterval.TotalMilliseconds,
                PoolSize = options.PoolSize,
                Refused = refused.Count > 0 ? refused : null,
            }, connection.Closed);
            handshake.CancelAfter(Timeout.InfiniteTimeSpan);
            GatewayLog.AgentConnected(logger, agent.Name, connection.Remote, Describe(accepted.Values));
            audit.Write(new AuditEvent { Time = connected, Event = AuditEvent.KindAgent, Outcome = "connected", Agent = agent.Name, Source = connection.Remote, Start = connected, Reason = "serving " + Describe(accepted.Values) });
            ended = await HeartbeatAsync(connection, session, grant);
        }
        catch (Exception e) when (e is IOException or ProtocolException or EndOfStreamException or InvalidOperationException or ObjectDisposedException)
        {
            ended = e is ProtocolException ? $"protocol error ({e.Message})" : "the connection was lost";
        }
        finally
        {
            if (registry.Unregister(session))
            {
                metrics.AgentDisconnected(agent.Name);
            }
            session.End();
            var now = time.GetUtcNow();
            GatewayLog.AgentDisconnected(logger, agent.Name, ended);
            // The audit queue never throws: a batch the database cannot take stays in audit.jsonl and is counted by the store's health.
            audit.Write(new AuditEvent
            {
                Time = now, Event = AuditEvent.KindAgent, Outcome = grant.Reason is null ? "disconnected" : "revoked",
                Agent = agent.Name, Source = connection.Remote, Start = connected, End = now, Reason = ended,
            });
            MarkSeen(agent.Name, now);
        }
        if (grant.Reason is not null)
        {
            connection.Abort();
        }
    }

    /// <summary>
    /// One of the agent's trunks: the gateway opens streams on it until the session ends or the
    /// gateway stops; then it carries the streams it has to their end and closes.
    /// </summary>
    public async Task RunTrunkAsync(TunnelConnection connection, Hello hello, Principal? agent)
    {
        var session = agent is null || hello.Session is null ? null : registry.FindSession(agent.Name, hello.Session);
        if (session is null)
        {
            await connection.RefuseAsync(agent is null
                ? await authenticator.RefusalAsync(connection.Remote, connection.Closed)
                : "no such agent session; reconnect the control connection first");
            return;
        }
        await connection.ReplyAsync(Reply.Success, connection.Closed);
        var trunk = new Trunk(connection.Stream, opener: true);
        if (!session.TryAddTrunk(trunk))
        {
            return;
        }
        try
        {
            using var stopping = connection.ClosingRequested.Register(trunk.Drain);
            await trunk.RunAsync(connection.Closed);
        }
        finally
        {
            session.RemoveTrunk(trunk);
        }
    }

    /// <summary>
    /// Records when the agent was last seen (what `jumpgate ls` shows of an agent that is gone). With
    /// the database out of reach the time is lost and nothing else: the store's health logs the
    /// outage once a minute, so this failure adds no line of its own.
    /// </summary>
    private void MarkSeen(string agent, DateTimeOffset now)
    {
        try
        {
            hosts.MarkSeen(agent, now);
        }
        catch (Exception e) when (StoreHealth.IsOutage(e))
        {
            store.Lost(e);
        }
    }

    /// <summary>Keeps only the hosts the agent's patterns allow, with valid names.</summary>
    private (Dictionary<string, HostAnnouncement> Accepted, List<string> Refused) Vet(Principal agent, IReadOnlyList<HostAnnouncement> hosts)
    {
        var accepted = new Dictionary<string, HostAnnouncement>(StringComparer.Ordinal);
        var refused = new List<string>();
        foreach (var host in hosts.Take(4096))
        {
            string? reason = null;
            // JSON cannot promise non-null list elements; a peer may send [null].
            if (host?.Services is null || host.Services.Any(s => s is null))
            {
                refused.Add("a host entry is empty or has an empty service");
                continue;
            }
            if (!Names.IsValid(host.Name))
            {
                reason = $"'{Truncate(host.Name)}' is not a valid host name ({Names.Rule})";
            }
            else if (agent.HostPatterns is not { } patterns || !patterns.Allows(host.Name))
            {
                reason = $"agent {agent.Name} is not allowed to serve host {host.Name} (allowed: {agent.HostPatterns?.ToString() ?? "none"})";
            }
            else if (host.Services.FirstOrDefault(s => !IsValidService(s)) is { } bad)
            {
                reason = $"host {host.Name} has an invalid service '{Truncate(bad.Name)}'";
            }
            else if (!accepted.TryAdd(host.Name, host))
            {
                reason = $"host {host.Name} is announced twice";
            }
            if (reason is not null)
            {
                GatewayLog.AgentHostRefused(logger, agent.Name, Truncate(host.Name), reason);
                refused.Add(reason);
            }
        }
        return (accepted, refused);
    }

    /// <summary>Names are DNS labels; what goes into upstream HTTP headers must be a plain host:port and a one-line token.</summary>
    private static bool IsValidService(ServiceAnnouncement service) =>
        Names.IsValid(service.Name)
        && service.Port is >= 1 and <= 65535
        && (service.Subdomain is null || Names.IsValid(service.Subdomain))
        && (service.UpstreamHost is null || Uri.TryCreate("http://" + service.UpstreamHost + "/", UriKind.Absolute, out var uri) && uri.PathAndQuery == "/" && uri.UserInfo.Length == 0)
        && (service.Token is null || service.Token.Length is > 0 and <= 4096 && !service.Token.Any(char.IsControl));

    private async Task<string> HeartbeatAsync(TunnelConnection connection, AgentSession session, LiveGrant grant)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(connection.Closed, session.Ended, connection.ClosingRequested, grant.Revoked);
        var deadline = options.HeartbeatInterval * 3;
        var lastHeard = time.GetTimestamp();
        var writer = WriteLoopAsync(connection, session, stop.Token);
        using var ticker = time.CreateTimer(_ => session.Send(new ControlMessage { Type = ControlMessage.Ping }), null, options.HeartbeatInterval, options.HeartbeatInterval);
        try
        {
            while (true)
            {
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                silence.CancelAfter(deadline - time.GetElapsedTime(lastHeard));
                ControlMessage message;
                try
                {
                    message = await Frame.ReadAsync(connection.Stream, ProtocolJson.Default.ControlMessage, silence.Token);
                }
                catch (OperationCanceledException)
                {
                    if (grant.Reason is { } revoked)
                    {
                        return "revoked: " + revoked;
                    }
                    if (session.Ended.IsCancellationRequested)
                    {
                        return "replaced by a newer connection of the same agent";
                    }
                    return stop.IsCancellationRequested ? "the gateway is stopping" : $"no heartbeat for {deadline.TotalSeconds:0.#} s";
                }
                lastHeard = time.GetTimestamp();
                session.LastHeard = time.GetUtcNow();
                if (message.Type == ControlMessage.Ping)
                {
                    session.Send(new ControlMessage { Type = ControlMessage.Pong });
                }
                else if (message.Type == ControlMessage.Health)
                {
                    ReportHealth(session, message);
                }
                else if (message.Type == ControlMessage.HostKeys)
                {
                    ReportHostKeys(session, message);
                }
                else if (message.Type == ControlMessage.SessionStream)
                {
                    sessions.Report(session, message);
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }
    }

    /// <summary>An agent's word on one of its services' health; about a service it did not announce, it is ignored.</summary>
    private void ReportHealth(AgentSession session, ControlMessage message)
    {
        if (message.Host is not { } host || message.Service is not { } service || session.ReplicaOf(host, service) is not { } replica)
        {
            return;
        }
        // The reason goes into logs and listings: one line, bounded, whatever the agent sent.
        var reason = message.Reason is { } text ? Truncate(new string([.. text.Select(c => char.IsControl(c) ? ' ' : c)]), 256) : null;
        var was = replica.Health.Healthy;
        replica.Report(message.Healthy, reason, time.GetUtcNow());
        if (was && !message.Healthy)
        {
            GatewayLog.ReplicaUnhealthy(logger, session.Agent, host, service, reason ?? "no reason given");
        }
        else if (!was && message.Healthy)
        {
            GatewayLog.ReplicaHealthy(logger, session.Agent, host, service);
        }
    }

    /// <summary>
    /// The host keys an agent read from one of its hosts' ssh service. Only the ssh service of a
    /// host the session announced counts (the one `ssh HOST.jg` reaches), and only well-formed keys.
    /// </summary>
    private void ReportHostKeys(AgentSession session, ControlMessage message)
    {
        if (message.Host is not { } host || message.Service != "ssh" || session.ReplicaOf(host, "ssh") is null)
        {
            return;
        }
        if (message.Keys is not { Count: > 0 and <= 16 } lines || SshHostKey.ParseAll(lines) is not { } keys)
        {
            GatewayLog.HostKeysIgnored(logger, session.Agent, host, "not between 1 and 16 well-formed keys");
            return;
        }
        hostKeys.Report(session.Agent, session.Remote, host, keys);
    }

    private static async Task WriteLoopAsync(TunnelConnection connection, AgentSession session, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in session.Outbox.ReadAllAsync(cancellationToken))
            {
                // Whole frames only: cancelling a write halfway would corrupt the control stream.
                await Frame.WriteAsync(connection.Stream, message, ProtocolJson.Default.ControlMessage, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException or NotSupportedException)
        {
            // The read loop notices the same failure and reports it.
        }
    }

    private static string Describe(IEnumerable<HostAnnouncement> hosts)
    {
        var text = string.Join("; ", hosts.Select(h => $"{h.Name} ({string.Join(", ", h.Services.Select(s => s.Name))})"));
        return text.Length == 0 ? "no hosts" : text;
    }

    private static string Truncate(string? text, int length = 64) => text is null ? "" : text.Length <= length ? text : text[..length] + "…";
}
