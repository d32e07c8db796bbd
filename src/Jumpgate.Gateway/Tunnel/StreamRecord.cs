using Jumpgate.Core.Audit;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Metrics;
using Jumpgate.Gateway.Routing;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// One user's stream from its request to its end, as the gateway records it: the log lines, the
/// audit events, the live grant that can revoke it and the meters that count its bytes by role,
/// kept together so that every path (a connection's stream, a trunk's, a direct one) records a
/// stream the same way. Disposing it stops the grant's checks.
/// </summary>
internal sealed class StreamRecord(Principal user, string? source, string host, string service, AuditLog audit, GatewayMetrics metrics, ILogger logger, TimeProvider time) : IDisposable
{
    private readonly long _asked = time.GetTimestamp();

    private AuditEvent _event = new()
    {
        Time = time.GetUtcNow(), Event = AuditEvent.KindStream, Outcome = "refused",
        User = user.Name, Source = source, Host = Refusals.Clip(host), Service = Refusals.Clip(service),
    };

    private LiveGrant? _session;
    private long _started;
    private int _ended;
    private StreamPath _path;

    public Principal User { get; } = user;

    /// <summary>The bytes carried each way so far; a splice counts into them while it runs.</summary>
    public StreamMeters Meters { get; } = new();

    /// <summary>Set once the stream is authorised; it fires when the store no longer allows the stream.</summary>
    public LiveGrant? Grant { get; private set; }

    public DateTimeOffset? Start => _event.Start;

    public string Host => _event.Host!;

    public string Service => _event.Service!;

    public string? Agent => _event.Agent;

    /// <summary>
    /// A direct session's legs: not one of the user's streams but what carries them, so the live
    /// list, the dashboard and the metrics leave it out; the streams inside are listed on their own.
    /// </summary>
    public bool IsSession => _path is StreamPath.SessionLegs;

    /// <summary>This stream is a direct session's legs (<see cref="IsSession"/>), from now on.</summary>
    public void CarriesSession() => _path = StreamPath.SessionLegs;

    /// <summary>Records a refusal (the rules' or any other) and returns its words for the user.</summary>
    public string Refuse(Authorization authorization)
    {
        _event = _event with { Service = authorization.Service, Agent = authorization.Session?.Agent };
        return authorization.Denied ? Deny(authorization.Refusal!) : Refuse(authorization.Refusal!);
    }

    /// <summary>Records a refusal for a reason other than the rules and returns its words.</summary>
    public string Refuse(string reason)
    {
        // Counted under its service only once a replica was chosen: before that, the name is the user's.
        metrics.StreamAsked(Grant is null ? null : Service, "refused");
        GatewayLog.StreamRefused(logger, User.Name, Host, Service, reason);
        audit.Write(_event with { Time = time.GetUtcNow(), Outcome = "refused", Reason = reason });
        return reason;
    }

    private string Deny(string reason)
    {
        metrics.StreamAsked(null, "denied");
        GatewayLog.StreamDenied(logger, User.Name, Host, Service, reason);
        audit.Write(_event with { Time = time.GetUtcNow(), Outcome = "denied", Reason = reason });
        return reason;
    }

    /// <summary>The stream is allowed: from now on the access monitor watches it, and it is recorded under the service and agent it goes to.</summary>
    public LiveGrant Authorized(Replica replica, AccessMonitor monitor)
    {
        _event = _event with { Service = replica.Service, Agent = replica.Agent };
        return Grant = monitor.TrackStream(User.Name, User.TokenId, Host, replica.Service, replica.Agent);
    }

    /// <summary>
    /// A stream inside a direct session, which <paramref name="session"/> authorised once for all its
    /// streams: recorded under the session's agent and service, and revoked with it.
    /// </summary>
    public void InSession(string agent, string service, LiveGrant session)
    {
        _event = _event with { Service = service, Agent = agent };
        _session = session;
    }

    /// <summary>
    /// The far end answered: the stream carries bytes from now on, on <paramref name="path"/>. The
    /// audit's reason names a path other than the plain trunk, and why a stream asked for as direct
    /// went through the gateway (<paramref name="fallback"/>).
    /// </summary>
    public void Opened(string? remote, StreamPath path = StreamPath.Trunk, string? fallback = null)
    {
        var start = time.GetUtcNow();
        _started = time.GetTimestamp();
        _path = path;
        var how = path switch
        {
            StreamPath.Direct => "direct",
            StreamPath.Plain => "direct, plain legs",
            StreamPath.SessionLegs => "direct session legs",
            StreamPath.InSession => "direct session",
            _ => fallback is null ? null : "trunk: " + fallback,
        };
        _event = _event with { Time = start, Outcome = "opened", Start = start, Reason = how };
        if (!IsSession)
        {
            metrics.StreamOpened(this, time.GetElapsedTime(_asked, _started));
        }
        GatewayLog.StreamOpened(logger, User.Name, Host, Service, Agent!, remote);
        audit.Write(_event);
    }

    /// <summary>Records how an opened stream ended, in words that name who ended it (and <paramref name="why"/> the gateway did, if it did), and its bytes by role.</summary>
    public void Closed(SpliceOutcome outcome, string? why = null)
    {
        var revoked = (Grant ?? _session)?.Reason;
        var words = (outcome, _path) switch
        {
            (SpliceOutcome.Canceled, _) => revoked is not null ? "revoked: " + revoked : "cancelled",
            // A direct stream's ends close their legs when they are done, often with a reset: which
            // leg ended first says nothing the gateway can know about the stream.
            (_, not StreamPath.Trunk) => $"closed ({_event.Reason})",
            (SpliceOutcome.Completed, _) => "closed by both ends",
            (SpliceOutcome.UserSideFailed, _) => "the user's side went away",
            _ => "the agent's side went away",
        };
        if (why is not null && revoked is null)
        {
            words += ": " + why;
        }
        var (toService, toUser) = (Meters.ToService, Meters.ToUser);
        Ended();
        GatewayLog.StreamClosed(logger, User.Name, Host, Service, Agent!, time.GetElapsedTime(_started).TotalSeconds, words, toService, toUser);
        var end = time.GetUtcNow();
        audit.Write(_event with
        {
            Time = end, Outcome = revoked is null ? "closed" : "revoked", End = end,
            BytesUp = toService, BytesDown = toUser, Reason = words,
        });
    }

    /// <summary>A leg that named this stream and was refused (a replayed or forged proof, an end that came twice): logged, and audited as a failed authentication when <paramref name="audited"/>.</summary>
    public void LegRefused(string? source, string reason, bool audited)
    {
        GatewayLog.DirectLegRefused(logger, source, User.Name, Host, Service, reason);
        if (audited)
        {
            audit.Write(_event with
            {
                Time = time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "failed", Source = source, Start = null,
                Reason = $"a leg of this stream: {reason}",
            });
        }
    }

    public void Dispose()
    {
        // An opened stream whose relay ended without a verdict still counts as ended.
        Ended();
        Grant?.Dispose();
    }

    /// <summary>The metrics count an opened stream's end once, whichever of <see cref="Closed"/> and <see cref="Dispose"/> comes first.</summary>
    private void Ended()
    {
        if (Start is not null && !IsSession && Interlocked.Exchange(ref _ended, 1) == 0)
        {
            metrics.StreamClosed(this);
        }
    }
}

/// <summary>Where a stream's bytes travel: through the gateway's TLS (a trunk or a connection), or on direct legs the gateway only relays.</summary>
internal enum StreamPath
{
    Trunk,

    /// <summary>Direct legs with TLS end to end between the CLI and the agent.</summary>
    Direct,

    /// <summary>Direct legs with no TLS of Jumpgate's: SSH's own encryption, checked for.</summary>
    Plain,

    /// <summary>A direct session's legs: TLS end to end, with a trunk inside whose streams are recorded on their own.</summary>
    SessionLegs,

    /// <summary>A stream inside a direct session: the agent reports it, the gateway never sees its bytes.</summary>
    InSession,
}
