using System.Collections.Concurrent;
using Jumpgate.Core.Config;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Metrics;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// The direct sessions this gateway relays now (docs/protocol.md, "Direct sessions") and the
/// streams inside them, which only the agent sees open and close: it reports each on its control
/// connection, and each becomes a stream of its own here, audited, listed and counted against the
/// user's limits like any other, under the session's grant, so that revoking it ends them all.
/// The user's limit is kept ahead of time: each session holds a few places of the user's room,
/// which its agent spends on new streams without asking and this tops up as they open; one past
/// the limit is refused by the agent in the gateway's words before it reaches the service.
/// </summary>
internal sealed class DirectSessions(StreamQuota quota, LiveStreams live, AgentRegistry agents, GatewayOptions options, AuditLog audit, GatewayMetrics metrics, TimeProvider time, ILogger<DirectSessions> logger)
{
    // Read by each session's streams too.
    private readonly StreamQuota _quota = quota;
    private readonly LiveStreams _live = live;
    private readonly AgentRegistry _agents = agents;
    private readonly TimeSpan _idleTimeout = options.Trunks.IdleTimeout;
    private readonly AuditLog _audit = audit;
    private readonly GatewayMetrics _metrics = metrics;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;

    /// <summary>How long a session that ended waits for the agent's last reports, which travel on another connection than its legs.</summary>
    private static readonly TimeSpan ReportGrace = TimeSpan.FromSeconds(2);

    /// <summary>The places a new session holds for its next streams; each time its agent has to ask for more, twice as many, up to <see cref="MaxCredit"/>.</summary>
    private const int InitialCredit = 8;

    /// <summary>The most places one session holds unused: what an idle session can keep from the user's other connections.</summary>
    private const int MaxCredit = 32;

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    /// <summary>
    /// Takes reports for the session whose legs meet as <paramref name="id"/> until the returned
    /// session is disposed, and holds its first places from the user's room (<see cref="Session.Granted"/>,
    /// which the agent's ticket carries). <paramref name="legs"/> must be authorised.
    /// </summary>
    public Session Open(string id, StreamRecord legs, AgentSession agent, string? source, int maxStreams)
    {
        var session = new Session(this, id, legs, agent.Agent, source, maxStreams);
        _sessions[id] = session;
        return session;
    }

    /// <summary>
    /// An agent's report of a stream inside one of its sessions, over whichever of its control
    /// connections is up (a session's legs outlive the one it began under). Matched by the session's
    /// id and the agent's name, which its token proved: about a session bound to another agent, or
    /// to none, it is ignored.
    /// </summary>
    public void Report(AgentSession agent, ControlMessage message)
    {
        if (message.Session is { } id && _sessions.TryGetValue(id, out var session) && session.Agent == agent.Agent)
        {
            session.Report(message);
        }
    }

    /// <summary>One session's streams as the agent reported them, and the places it holds for the next.</summary>
    internal sealed class Session : IAsyncDisposable
    {
        private readonly DirectSessions _owner;
        private readonly string _id;
        private readonly StreamRecord _legs;
        private readonly int _maxStreams;
        private readonly Dictionary<long, Inner> _open = [];
        private readonly StreamQuota.TrunkStreams _counted;
        private TaskCompletionSource? _drained;
        private string? _source;
        private ITimer? _idleCheck;
        private long _lastActive;
        private long _lastBytes;

        // The places granted to the agent so far (a running total, as the agent is told it), those its
        // opened streams took, and how many to keep ahead of them; under the lock of _open.
        private long _granted;
        private long _used;
        private int _credit = InitialCredit;

        /// <param name="source">Where the user asked for the session from, for the audit of the limits.</param>
        public Session(DirectSessions owner, string id, StreamRecord legs, string agent, string? source, int maxStreams)
        {
            _owner = owner;
            _id = id;
            _legs = legs;
            _maxStreams = maxStreams;
            Agent = agent;
            _counted = owner._quota.ForTrunk(legs.User.Name, source);
            _granted = owner._quota.TryHold(_counted, Math.Min(_credit, maxStreams), out _);
        }

        /// <summary>The agent the session is bound to; only its reports count.</summary>
        public string Agent { get; }

        /// <summary>The streams the agent may open so far without asking (a running total).</summary>
        public long Granted
        {
            get
            {
                lock (_open)
                {
                    return _granted;
                }
            }
        }

        /// <summary>Why the gateway closed the legs itself, when it did for the session being idle.</summary>
        public string? IdleReason { get; private set; }

        /// <summary>
        /// The legs met and carry the session from now on, from <paramref name="source"/>. With no
        /// stream in it and nothing crossing its legs for the idle timeout, <paramref name="idle"/>
        /// closes them, whether or not the client closes its idle session itself.
        /// </summary>
        public void Begin(string? source, Action idle)
        {
            _source = source;
            lock (_open)
            {
                _lastActive = _owner._time.GetTimestamp();
            }
            var every = _owner._idleTimeout / 4;
            _idleCheck = _owner._time.CreateTimer(_ => CheckIdle(idle), null, every, every);
        }

        private void CheckIdle(Action idle)
        {
            var bytes = _legs.Meters.ToService + _legs.Meters.ToUser;
            lock (_open)
            {
                if (_open.Count > 0 || bytes != _lastBytes)
                {
                    _lastBytes = bytes;
                    _lastActive = _owner._time.GetTimestamp();
                    return;
                }
                if (IdleReason is not null || _owner._time.GetElapsedTime(_lastActive) < _owner._idleTimeout)
                {
                    return;
                }
                IdleReason = $"no streams and nothing sent for {Durations.Humanize(_owner._idleTimeout)}";
            }
            idle();
        }

        public void Report(ControlMessage message)
        {
            switch (message.Outcome)
            {
                case "opened":
                    Opened(message.Stream);
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
                    closed?.Close(_legs.Grant?.Reason is not null ? SpliceOutcome.Canceled : SpliceOutcome.Completed, Math.Max(0, message.BytesUp), Math.Max(0, message.BytesDown));
                    break;
                case "progress":
                    Inner? running;
                    lock (_open)
                    {
                        _open.TryGetValue(message.Stream, out running);
                    }
                    running?.Progress(message.BytesUp, message.BytesDown);
                    break;
                case "wanted":
                    Wanted(message.Granted ?? 0);
                    break;
                case "limited":
                    // A limit the agent kept (the session's own, or the user's in the words this sent it): summed up as the gateway's limits are, not audited one by one.
                    _owner._quota.Refused(_counted, Printable(message.Reason ?? "too many streams in this direct session"));
                    break;
                case "refused":
                    using (var record = NewRecord())
                    {
                        record.Refuse("the agent could not open it: " + Printable(message.Reason ?? "no reason given"));
                    }
                    break;
            }
        }

        private void Opened(long stream)
        {
            ControlMessage? grant;
            lock (_open)
            {
                // The agent keeps the session to its limit; one that claims more is not believed past it.
                if (_open.ContainsKey(stream) || _open.Count >= _maxStreams)
                {
                    return;
                }
                StreamQuota.Admission counted;
                if (_used < _granted)
                {
                    // One of the places held for it: counted already.
                    _used++;
                    counted = _owner._quota.Use(_counted);
                }
                else if (_owner._quota.TryCount(_counted, out var refusal) is { } over)
                {
                    // Past what was granted (an agent that keeps no grant): counted after the fact.
                    counted = over;
                }
                else
                {
                    // And reset if it takes the user past their limit (the quota audited why).
                    Send(new ControlMessage { Type = ControlMessage.SessionStream, Session = _id, Stream = stream, Outcome = "reset", Reason = refusal });
                    return;
                }
                var record = NewRecord();
                var inner = new Inner(record, _owner._live.Add(record), counted);
                record.Opened(_source, StreamPath.InSession);
                _open[stream] = inner;
                grant = TopUp() > 0 ? GrantMessage(null) : null;
            }
            if (grant is not null)
            {
                Send(grant);
            }
        }

        /// <summary>
        /// The agent has streams waiting and no place for them, and needs <paramref name="needed"/> in all:
        /// as many more as the user has room for (and more ahead next time), else the user's limit in
        /// words. Always answered with the running total, which also makes good a grant lost with a control connection.
        /// </summary>
        private void Wanted(long needed)
        {
            ControlMessage grant;
            lock (_open)
            {
                _credit = Math.Min(_credit * 2, MaxCredit);
                var ahead = Math.Min(_credit, _maxStreams) - (_granted - _used);
                // Never more unused than the session may have open: an agent that asks for the moon holds no more of the user's room.
                var want = Math.Min(Math.Max(needed - _granted, ahead), _maxStreams - (_granted - _used));
                var (held, refusal) = (0, "");
                if (want > 0 && _drained is null)
                {
                    held = _owner._quota.TryHold(_counted, (int)want, out refusal);
                    _granted += held;
                }
                // Some but not all: the agent asks again for the rest, and hears the limit then.
                grant = GrantMessage(needed <= _granted || held > 0 ? null : refusal.Length > 0 ? refusal : "the direct session is closing; try again");
            }
            Send(grant);
        }

        /// <summary>
        /// Once the places held ahead of the opened streams are down to half the credit, holds more of
        /// the user's room until the session has its credit ahead again, as far as the user has room;
        /// returns how many. In steps, not one by one: each grant is a message to the agent.
        /// </summary>
        private int TopUp()
        {
            var ahead = Math.Min(_credit, _maxStreams);
            var want = ahead - (_granted - _used);
            if (want <= 0 || want < (ahead + 1) / 2 || _drained is not null)
            {
                return 0;
            }
            var held = _owner._quota.TryHold(_counted, (int)want, out _);
            _granted += held;
            return held;
        }

        private ControlMessage GrantMessage(string? refusal) =>
            new() { Type = ControlMessage.SessionStream, Session = _id, Outcome = "granted", Granted = _granted, Reason = refusal };

        /// <summary>To the agent over its control connection of the moment.</summary>
        private void Send(ControlMessage message) => _owner._agents.Current(Agent)?.Send(message);

        /// <summary>The agent's words go into logs and the audit: one line, at most 256 characters, as its health reasons.</summary>
        private static string Printable(string text) => new([.. text.Take(256).Select(c => char.IsControl(c) ? ' ' : c)]);

        private StreamRecord NewRecord()
        {
            var record = new StreamRecord(_legs.User, _source, _legs.Host, _legs.Service, _owner._audit, _owner._metrics, _owner._logger, _owner._time);
            record.InSession(_legs.Agent!, _legs.Service, _legs.Grant!);
            return record;
        }

        /// <summary>
        /// The legs are done: waits briefly for the agent's last reports, then closes what it never
        /// reported as ended, and gives the places it held and never used back to the user's room.
        /// </summary>
        public async ValueTask DisposeAsync()
        {
            _idleCheck?.Dispose();
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
                await drained.WaitAsync(ReportGrace, _owner._time);
            }
            catch (TimeoutException)
            {
                // The agent went away with its reports (or was cut on revocation): what is left closes below.
            }
            _owner._sessions.TryRemove(new KeyValuePair<string, Session>(_id, this));
            Inner[] left;
            long unused;
            lock (_open)
            {
                left = [.. _open.Values];
                _open.Clear();
                unused = _granted - _used;
                _used = _granted;
            }
            _owner._quota.Release(_counted, (int)unused);
            foreach (var inner in left)
            {
                inner.Close(_legs.Grant?.Reason is not null ? SpliceOutcome.Canceled : SpliceOutcome.ServiceSideFailed, 0, 0);
            }
        }
    }

    /// <summary>A stream open inside a session: its record, its place in the live list, its count against the user's limits.</summary>
    private sealed class Inner(StreamRecord record, LiveStreams.Listing listing, StreamQuota.Admission counted)
    {
        private readonly Lock _gate = new();
        private long _toService;
        private long _toUser;

        public StreamRecord Record { get; } = record;

        /// <summary>
        /// The agent's running count of the stream's bytes: what it adds goes into the live figures now,
        /// never taking them back (a count lower than one heard before, from a reordered report, adds nothing).
        /// </summary>
        public void Progress(long toService, long toUser)
        {
            long addService, addUser;
            lock (_gate)
            {
                addService = Math.Max(0, toService - _toService);
                addUser = Math.Max(0, toUser - _toUser);
                _toService += addService;
                _toUser += addUser;
            }
            Record.Meters.Add(addService, addUser);
        }

        public void Close(SpliceOutcome outcome, long toService, long toUser)
        {
            // The rest of the agent's count at its end: the live totals move by what its progress reports had not said yet.
            Progress(toService, toUser);
            Record.Closed(outcome);
            listing.Dispose();
            counted.Dispose();
            Record.Dispose();
        }
    }
}
