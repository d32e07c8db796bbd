using System.Collections.Concurrent;
using Jumpgate.Core.Audit;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// How many streams each user's trunks hold: open at once, and pending (opened, request not yet
/// read), per trunk and per user across all their trunks (<see cref="TrunkOptions"/>). A stream
/// over a limit is refused in words the user's CLI prints. Refusals are audited as one event when
/// they start and then one summary per <see cref="SummaryInterval"/> per user, so a flood of
/// new streams cannot flood the audit too.
/// </summary>
internal sealed class StreamQuota(TrunkOptions options, AuditLog audit, TimeProvider time, ILogger<StreamQuota> logger)
{
    /// <summary>How often a user's refusals are summed up in one audit event while they go on.</summary>
    public static readonly TimeSpan SummaryInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, UserStreams> _users = new(StringComparer.Ordinal);

    /// <summary>The counters of one new trunk of <paramref name="user"/>'s.</summary>
    public TrunkStreams ForTrunk(string user, string? source) => new(_users.GetOrAdd(user, name => new UserStreams(name)), source);

    /// <summary>Admits a new stream (it starts pending), or returns null and says why in <paramref name="refusal"/>.</summary>
    public Admission? TryAdmit(TrunkStreams trunk, out string refusal) => TryAdmit(trunk, opened: false, out refusal);

    /// <summary>
    /// Counts a stream that is already open (one inside a direct session, which the agent reports
    /// once it runs and keeps to the session's own limit), or returns null when it takes the user
    /// past theirs: the caller then has it reset. Refusals are audited as <see cref="TryAdmit(TrunkStreams, out string)"/>'s are.
    /// </summary>
    public Admission? TryCount(TrunkStreams trunk, out string refusal) => TryAdmit(trunk, opened: true, out refusal);

    private Admission? TryAdmit(TrunkStreams trunk, bool opened, out string refusal)
    {
        var user = trunk.User;
        lock (user)
        {
            refusal = !opened && trunk.Open >= options.MaxStreams ? $"too many streams: {trunk.Open} are open on this connection, the gateway's limit; close some and try again"
                : user.Open >= options.MaxStreamsPerUser ? UserFull(user)
                : opened ? ""
                : trunk.Pending >= options.MaxPending ? $"too many streams opening at once: {trunk.Pending} on this connection have not sent their request yet; try again in a moment"
                : user.Pending >= options.MaxPendingPerUser ? $"too many streams opening at once: user {user.Name} has {user.Pending} that have not sent their request yet; try again in a moment"
                : "";
            if (refusal.Length == 0)
            {
                trunk.Open++;
                user.Open++;
                if (!opened)
                {
                    trunk.Pending++;
                    user.Pending++;
                }
                return new Admission(trunk, pending: !opened);
            }
        }
        Refused(trunk, refusal);
        return null;
    }

    /// <summary>The user's limit in words; places held for direct sessions count as open, and are said to be.</summary>
    private string UserFull(UserStreams user) => user.Held > 0
        ? $"too many streams: user {user.Name} has {user.Open} open ({user.Held} of them held for the next connections of a direct session), the gateway's limit; close some and try again"
        : $"too many streams: user {user.Name} has {user.Open} open, the gateway's limit; close some and try again";

    /// <summary>
    /// Holds up to <paramref name="count"/> places of the user's room for a direct session's next
    /// streams, which its agent opens without asking (docs/protocol.md, "Direct sessions"): they
    /// count as open from now on. Returns how many it held; with none, <paramref name="refusal"/>
    /// is the user's limit in words. Not audited here: the agent reports each stream it refuses for it.
    /// </summary>
    public int TryHold(TrunkStreams trunk, int count, out string refusal)
    {
        var user = trunk.User;
        lock (user)
        {
            var held = Math.Clamp(options.MaxStreamsPerUser - user.Open, 0, Math.Max(0, count));
            user.Open += held;
            user.Held += held;
            refusal = held == 0 ? UserFull(user) : "";
            return held;
        }
    }

    /// <summary>A stream that opened takes one place held by <see cref="TryHold"/>: it was counted then, and stays counted until disposed.</summary>
    public Admission Use(TrunkStreams trunk)
    {
        lock (trunk.User)
        {
            trunk.User.Held--;
            trunk.Open++;
        }
        return new Admission(trunk, pending: false);
    }

    /// <summary>Places held by <see cref="TryHold"/> and never used go back to the user's room.</summary>
    public void Release(TrunkStreams trunk, int count)
    {
        lock (trunk.User)
        {
            trunk.User.Held -= count;
            trunk.User.Open -= count;
        }
    }

    /// <summary>
    /// Records a stream refused for a limit, here or elsewhere (a direct session's own, which its
    /// agent keeps): the first is audited now, the rest summed up once per <see cref="SummaryInterval"/>.
    /// </summary>
    public void Refused(TrunkStreams trunk, string refusal)
    {
        var user = trunk.User;
        lock (user)
        {
            user.Refused++;
            user.LastRefusal = refusal;
            user.LastSource = trunk.Source;
            if (user.Summary is not null)
            {
                return;
            }
            // The first refusal is written now; the rest are counted and summed up each interval.
            user.Refused = 0;
            user.Summary = time.CreateTimer(_ => Summarise(user), null, SummaryInterval, SummaryInterval);
        }
        Write(user.Name, trunk.Source, 1, refusal);
    }

    private void Summarise(UserStreams user)
    {
        int refused;
        string reason;
        string? source;
        lock (user)
        {
            (refused, reason, source) = (user.Refused, user.LastRefusal, user.LastSource);
            user.Refused = 0;
            if (refused == 0)
            {
                user.Summary?.Dispose();
                user.Summary = null;
                return;
            }
        }
        Write(user.Name, source, refused, reason);
    }

    private void Write(string user, string? source, int refused, string reason)
    {
        var summary = refused == 1 ? reason : $"{refused} streams refused in the last {SummaryInterval.TotalSeconds:0} s; the last: {reason}";
        GatewayLog.StreamsRefused(logger, user, source, refused, reason);
        audit.Write(new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindStream, Outcome = "refused", User = user, Source = source, Reason = summary });
    }

    /// <summary>One user's streams across all their trunks; also the lock for them and their trunks' counters.</summary>
    internal sealed class UserStreams(string name)
    {
        public string Name { get; } = name;
        public int Open;
        public int Pending;

        /// <summary>Of <see cref="Open"/>, the places held for direct sessions' next streams.</summary>
        public int Held;
        public int Refused;
        public string LastRefusal = "";
        public string? LastSource;
        public ITimer? Summary;
    }

    /// <summary>One trunk's streams.</summary>
    internal sealed class TrunkStreams(UserStreams user, string? source)
    {
        public UserStreams User { get; } = user;
        public string? Source { get; } = source;
        public int Open;
        public int Pending;
    }

    /// <summary>An admitted stream: pending until <see cref="Requested"/>, open until disposed.</summary>
    internal sealed class Admission(TrunkStreams trunk, bool pending = true) : IDisposable
    {
        private bool _pending = pending;
        private bool _ended;

        /// <summary>Its request has arrived: it no longer counts as pending.</summary>
        public void Requested()
        {
            lock (trunk.User)
            {
                if (_pending && !_ended)
                {
                    _pending = false;
                    trunk.Pending--;
                    trunk.User.Pending--;
                }
            }
        }

        public void Dispose()
        {
            lock (trunk.User)
            {
                if (_ended)
                {
                    return;
                }
                _ended = true;
                if (_pending)
                {
                    trunk.Pending--;
                    trunk.User.Pending--;
                }
                trunk.Open--;
                trunk.User.Open--;
            }
        }
    }
}
