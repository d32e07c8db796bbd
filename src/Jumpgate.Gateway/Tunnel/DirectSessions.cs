using System.Collections.Concurrent;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Metrics;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// The direct sessions this gateway relays now (docs/protocol.md, "Direct sessions") and the
/// streams inside them, which only the agent sees open and close: it reports each on its control
/// connection, and each becomes a stream of its own here, audited, listed and counted against the
/// user's limits like any other, under the session's grant, so that revoking it ends them all.
/// </summary>
internal sealed class DirectSessions(StreamQuota quota, LiveStreams live, AuditLog audit, GatewayMetrics metrics, TimeProvider time, ILogger<DirectSessions> logger)
{
    // Read by each session's streams too.
    private readonly StreamQuota _quota = quota;
    private readonly LiveStreams _live = live;
    private readonly AuditLog _audit = audit;
    private readonly GatewayMetrics _metrics = metrics;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;

    /// <summary>How long a session that ended waits for the agent's last reports, which travel on another connection than its legs.</summary>
    private static readonly TimeSpan ReportGrace = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    /// <summary>Takes reports for the session whose legs met as <paramref name="id"/> until the returned session is disposed.</summary>
    public Session Open(string id, StreamRecord legs, AgentSession agent, string? source, int maxStreams)
    {
        var session = new Session(this, id, legs, agent, source, maxStreams);
        _sessions[id] = session;
        return session;
    }

    /// <summary>An agent's report of a stream inside one of its sessions; about a session it does not hold, it is ignored.</summary>
    public void Report(AgentSession agent, ControlMessage message)
    {
        if (message.Session is { } id && _sessions.TryGetValue(id, out var session) && session.Agent == agent)
        {
            session.Report(message);
        }
    }

    /// <summary>One session's streams as the agent reported them.</summary>
    internal sealed class Session(DirectSessions owner, string id, StreamRecord legs, AgentSession agent, string? source, int maxStreams) : IAsyncDisposable
    {
        private readonly Dictionary<long, Inner> _open = [];
        private readonly StreamQuota.TrunkStreams _counted = owner._quota.ForTrunk(legs.User.Name, source);
        private TaskCompletionSource? _drained;

        public AgentSession Agent { get; } = agent;

        public void Report(ControlMessage message)
        {
            switch (message.Outcome)
            {
                case "opened":
                    lock (_open)
                    {
                        // The agent keeps the session to its limit; one that claims more is not believed past it.
                        if (_open.ContainsKey(message.Stream) || _open.Count >= maxStreams)
                        {
                            return;
                        }
                        if (owner._quota.TryCount(_counted, out var refusal) is not { } counted)
                        {
                            // Past the user's own limit, across all their connections: the agent resets it (the quota audited why).
                            Agent.Send(new ControlMessage { Type = ControlMessage.SessionStream, Session = id, Stream = message.Stream, Outcome = "reset", Reason = refusal });
                            return;
                        }
                        var record = NewRecord();
                        var inner = new Inner(record, owner._live.Add(record), counted);
                        record.Opened(source, StreamPath.InSession);
                        _open[message.Stream] = inner;
                    }
                    break;
                case "closed":
                    Inner? closed;
                    lock (_open)
                    {
                        _open.Remove(message.Stream, out closed);
                        if (_open.Count == 0)
                        {
                            _drained?.TrySetResult();
                        }
                    }
                    closed?.Close(legs.Grant?.Reason is not null ? SpliceOutcome.Canceled : SpliceOutcome.Completed, Math.Max(0, message.BytesUp), Math.Max(0, message.BytesDown));
                    break;
                case "limited":
                    // The session's own limit, which the agent keeps: summed up as the gateway's limits are, not audited one by one.
                    owner._quota.Refused(_counted, Printable(message.Reason ?? "too many streams in this direct session"));
                    break;
                case "refused":
                    using (var record = NewRecord())
                    {
                        record.Refuse("the agent could not open it: " + Printable(message.Reason ?? "no reason given"));
                    }
                    break;
            }
        }

        /// <summary>The agent's words go into logs and the audit: one line, at most 256 characters, as its health reasons.</summary>
        private static string Printable(string text) => new([.. text.Take(256).Select(c => char.IsControl(c) ? ' ' : c)]);

        private StreamRecord NewRecord()
        {
            var record = new StreamRecord(legs.User, source, legs.Host, legs.Service, owner._audit, owner._metrics, owner._logger, owner._time);
            record.InSession(legs.Agent!, legs.Service, legs.Grant!);
            return record;
        }

        /// <summary>The legs are done: waits briefly for the agent's last reports, then closes what it never reported as ended.</summary>
        public async ValueTask DisposeAsync()
        {
            Task drained;
            lock (_open)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_open.Count == 0)
                {
                    _drained.TrySetResult();
                }
                drained = _drained.Task;
            }
            try
            {
                await drained.WaitAsync(ReportGrace, owner._time);
            }
            catch (TimeoutException)
            {
                // The agent went away with its reports (or was cut on revocation): what is left closes below.
            }
            owner._sessions.TryRemove(new KeyValuePair<string, Session>(id, this));
            Inner[] left;
            lock (_open)
            {
                left = [.. _open.Values];
                _open.Clear();
            }
            foreach (var inner in left)
            {
                inner.Close(legs.Grant?.Reason is not null ? SpliceOutcome.Canceled : SpliceOutcome.ServiceSideFailed, 0, 0);
            }
        }
    }

    /// <summary>A stream open inside a session: its record, its place in the live list, its count against the user's limits.</summary>
    private sealed record Inner(StreamRecord Record, LiveStreams.Listing Listing, StreamQuota.Admission Counted)
    {
        public void Close(SpliceOutcome outcome, long toService, long toUser)
        {
            // Counted into the live totals as the stream leaves the list: the agent reports its bytes once, at its end.
            Record.Meters.Add(toService, toUser);
            Record.Closed(outcome);
            Listing.Dispose();
            Counted.Dispose();
            Record.Dispose();
        }
    }
}
