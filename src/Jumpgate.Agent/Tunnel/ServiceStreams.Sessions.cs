using System.Collections.Concurrent;
using Jumpgate.Agent.Hosting;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// The agent's end of a direct session (docs/protocol.md, "Direct sessions"): one direct leg, TLS
/// end to end with `forward` as for a direct stream, with a trunk inside it whose every stream is
/// one more connection to the service the gateway authorised the session for, and to nothing else.
/// Each stream's open and close is reported to the gateway, which audits and counts it.
/// </summary>
internal sealed partial class ServiceStreams
{
    /// <summary>What a session's streams may open at most at once when the gateway names no limit (its own default per trunk).</summary>
    private const int DefaultSessionStreams = 256;

    /// <summary>The sessions this agent serves now, by their legs' meeting id, so that the gateway can have one of their streams reset.</summary>
    private readonly ConcurrentDictionary<string, SessionBinding> _sessions = new(StringComparer.Ordinal);

    /// <summary>How often the bytes of a session's open streams are reported, so that the gateway's live figures move while they run.</summary>
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    /// <summary>How long a stream waits for the gateway to grant its session more places before it is refused.</summary>
    private static readonly TimeSpan GrantPatience = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The gateway's word about one of the sessions served for it, on any of its control connections:
    /// more places for new streams (<c>granted</c>, or none and the user's limit in words), or a stream
    /// that took its user past their limit after the fact (<c>reset</c>).
    /// </summary>
    public void OnSessionMessage(ControlMessage message)
    {
        if (message.Session is not { } id || !_sessions.TryGetValue(id, out var bound))
        {
            return;
        }
        if (message.Outcome == "granted" && message.Granted is { } granted)
        {
            if (bound.Budget.Grant(granted, message.Reason) is { } needed)
            {
                // Granted, but not enough for all that wait: ask again.
                AskForPlaces(bound, needed);
            }
        }
        else if (message.Outcome == "reset" && message.Stream is > 0 and <= uint.MaxValue && bound.Live.TryGetValue((uint)message.Stream, out var stream))
        {
            AgentLog.StreamFailed(logger, bound.Host, bound.Service, "the gateway reset a stream of a direct session: " + (message.Reason ?? "no reason given"));
            stream.Abort();
        }
    }

    /// <summary>A new control connection is up: sessions with streams waiting for places ask again, in case their ask or its answer went with the last one.</summary>
    public void AskAgain()
    {
        foreach (var bound in _sessions.Values)
        {
            if (bound.Budget.Waiting() is { } needed)
            {
                AskForPlaces(bound, needed);
            }
        }
    }

    private async Task ServeSessionAsync(TrunkStream tunnel, OpenRequest request, DirectTicket ticket, CancellationToken aborted)
    {
        if (!options.Hosts.TryGetValue(request.Host, out var host) || !host.Services.ContainsKey(request.Service))
        {
            var error = $"this agent does not serve {request.Host}:{request.Service}";
            AgentLog.StreamFailed(logger, request.Host, request.Service, error);
            await TryWriteAsync(tunnel, Reply.Failure(error));
            return;
        }
        if (await DialLegAsync<Stream>(tunnel, request, async token => await DirectLeg.DialAsync(options.Gateway, ticket, token), aborted) is not { } leg)
        {
            return;
        }
        await using (leg)
        {
            if (!await TryWriteAsync(tunnel, Reply.Success))
            {
                return;
            }
            if (await AcceptUserEndAsync(leg, ticket, request, "session", aborted) is not { } tls)
            {
                return;
            }
            await using (tls)
            {
                // Bound here, from the gateway's request: nothing a stream inside says can change it.
                var bound = new SessionBinding(ticket.Id, request.Host, request.Service, ticket.MaxStreams > 0 ? ticket.MaxStreams : DefaultSessionStreams, new SessionBudget(ticket.Granted));
                AgentLog.SessionOpened(logger, bound.Host, bound.Service);
                var inner = new Trunk(tls, opener: false, accept: stream => ServeSessionStreamAsync(stream, bound, aborted),
                    acceptFailed: e => AgentLog.WorkFailed(logger, "a stream of a direct session", e));
                _sessions[bound.Id] = bound;
                using var ending = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                var progress = ReportProgressAsync(bound, ending.Token);
                try
                {
                    await inner.RunAsync(aborted);
                }
                finally
                {
                    await ending.CancelAsync();
                    await progress;
                    _sessions.TryRemove(new KeyValuePair<string, SessionBinding>(bound.Id, bound));
                }
                AgentLog.SessionClosed(logger, bound.Host, bound.Service, bound.Streams);
            }
        }
    }

    /// <summary>
    /// One stream inside a session: its request must name the bound service (a session reaches
    /// nothing else), then it is served as a trunk stream is: connect, answer, splice.
    /// </summary>
    private async Task ServeSessionStreamAsync(TrunkStream stream, SessionBinding bound, CancellationToken aborted)
    {
        await using var _ = stream;
        OpenRequest request;
        try
        {
            request = await Frame.ReadAsync(stream, ProtocolJson.Default.OpenRequest, aborted);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or OperationCanceledException)
        {
            return;
        }
        if (request.Host != bound.Host || request.Service != bound.Service || request.Leg is not null)
        {
            await RefuseSessionStreamAsync(stream, bound, $"this direct session reaches only {bound.Host}:{bound.Service}");
            return;
        }
        if (Interlocked.Increment(ref bound.Open) > bound.MaxStreams)
        {
            Interlocked.Decrement(ref bound.Open);
            await RefuseSessionStreamAsync(stream, bound, $"too many streams: {bound.MaxStreams} are open in this direct session, the gateway's limit; close some and try again", "limited");
            return;
        }
        // A place the gateway granted, taken before the service is reached: past the user's limit, refused in the gateway's words.
        if (await bound.Budget.TakeAsync(needed => AskForPlaces(bound, needed), GrantPatience, aborted) is { } refusal)
        {
            Interlocked.Decrement(ref bound.Open);
            await RefuseSessionStreamAsync(stream, bound, refusal, "limited");
            return;
        }
        var spent = false;
        SpliceResult result;
        try
        {
            var (target, address, error) = await ServiceDialer.ConnectAsync(options, bound.Host, bound.Service, aborted);
            if (target is null)
            {
                AgentLog.StreamFailed(logger, bound.Host, bound.Service, error!);
                await RefuseSessionStreamAsync(stream, bound, error!);
                return;
            }
            await using (target)
            {
                if (!await TryWriteAsync(stream, Reply.Success))
                {
                    return;
                }
                spent = true;
                bound.Budget.Taken(spent);
                Interlocked.Increment(ref bound.Streams);
                bound.Live[stream.Id] = stream;
                var meters = bound.Meters[stream.Id] = new StreamMeters();
                // Reported beside the splice, not before it: the gateway audits the stream, it does not wait on it.
                reports.Gather(new ControlMessage { Type = ControlMessage.SessionStream, Session = bound.Id, Stream = stream.Id, Outcome = "opened" });
                AgentLog.StreamOpened(logger, bound.Host, bound.Service, address);
                result = await Splice.RunAsync(stream, target, aborted, meters);
                AgentLog.StreamClosed(logger, bound.Host, bound.Service, result.Outcome.ToString(), result.ToService, result.ToUser);
            }
        }
        finally
        {
            if (!spent)
            {
                // Never opened: the place goes back to the session.
                bound.Budget.Taken(false);
            }
            // The stream is over here, whether or not its reports have gone yet: it no longer counts against the session's limit.
            bound.Live.TryRemove(new KeyValuePair<uint, TrunkStream>(stream.Id, stream));
            ((IDictionary<uint, StreamMeters>)bound.Meters).Remove(stream.Id);
            Interlocked.Decrement(ref bound.Open);
        }
        reports.Gather(new ControlMessage
        {
            Type = ControlMessage.SessionStream, Session = bound.Id, Stream = stream.Id, Outcome = "closed",
            BytesUp = result.ToService, BytesDown = result.ToUser, Reason = result.Outcome.ToString(),
        });
    }

    /// <summary>
    /// Every <see cref="ProgressInterval"/> while the session lasts, the running bytes of each open stream
    /// whose count moved (<c>progress</c>), so the gateway's live figures (`jumpgate ls`, the dashboard,
    /// the metrics) move while a long stream runs, not only at its close. Sent only while a control
    /// connection is up: the close carries the totals anyway.
    /// </summary>
    private async Task ReportProgressAsync(SessionBinding bound, CancellationToken ending)
    {
        var sent = new Dictionary<uint, (long Up, long Down)>();
        using var ticker = new PeriodicTimer(ProgressInterval);
        try
        {
            while (await ticker.WaitForNextTickAsync(ending))
            {
                foreach (var (id, meters) in bound.Meters)
                {
                    var now = (meters.ToService, meters.ToUser);
                    if (sent.GetValueOrDefault(id) != now)
                    {
                        sent[id] = now;
                        reports.GatherIfUp(new ControlMessage { Type = ControlMessage.SessionStream, Session = bound.Id, Stream = id, Outcome = "progress", BytesUp = now.ToService, BytesDown = now.ToUser });
                    }
                }
                sent.Keys.Where(id => !bound.Meters.ContainsKey(id)).ToList().ForEach(id => sent.Remove(id));
            }
        }
        catch (OperationCanceledException)
        {
            // The session ended.
        }
    }

    /// <summary>Asks the gateway for places for new streams: <paramref name="needed"/> in all, a running total as its grants are.</summary>
    private void AskForPlaces(SessionBinding bound, long needed) =>
        reports.Post(new ControlMessage { Type = ControlMessage.SessionStream, Session = bound.Id, Outcome = "wanted", Granted = needed });

    /// <summary>Answers a stream with a refusal and reports it: <c>refused</c>, or <c>limited</c> for the session's limit, which the gateway sums up instead of auditing each.</summary>
    private async Task RefuseSessionStreamAsync(TrunkStream stream, SessionBinding bound, string reason, string outcome = "refused")
    {
        await TryWriteAsync(stream, Reply.Failure(reason));
        reports.Post(new ControlMessage { Type = ControlMessage.SessionStream, Session = bound.Id, Stream = stream.Id, Outcome = outcome, Reason = reason });
    }

    /// <summary>What the gateway bound a session to, and its streams open now and opened in all.</summary>
    private sealed class SessionBinding(string id, string host, string service, int maxStreams, SessionBudget budget)
    {
        public string Id { get; } = id;

        /// <summary>The places the gateway granted for new streams.</summary>
        public SessionBudget Budget { get; } = budget;
        public string Host { get; } = host;
        public string Service { get; } = service;
        public int MaxStreams { get; } = maxStreams;

        /// <summary>The streams answered and not yet ended, by id.</summary>
        public ConcurrentDictionary<uint, TrunkStream> Live { get; } = new();

        /// <summary>Their bytes so far, which their splices count into.</summary>
        public ConcurrentDictionary<uint, StreamMeters> Meters { get; } = new();
        public int Open;
        public long Streams;
    }
}
