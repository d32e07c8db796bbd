using System.Collections.Concurrent;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// The user streams this gateway carries now, the one list that everything watching them reads
/// (the dashboard, the admin API's status, the metrics' byte counters): each stream's record from
/// its request until it ends, and the bytes of those that ended, so that the bytes moved in an
/// interval can be read as the difference of two totals. Nothing here decides anything.
/// </summary>
internal sealed class LiveStreams
{
    private readonly ConcurrentDictionary<long, StreamRecord> _streams = new();

    /// <summary>
    /// A stream's bytes move from the listed streams to the ended totals in one step under this
    /// lock, which every total also takes: a byte counter that dipped for a moment would read as
    /// a counter reset to Prometheus, and as a negative interval on the dashboard.
    /// </summary>
    private readonly Lock _ending = new();
    private long _nextId;
    private readonly Dictionary<string, long> _endedByUser = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long ToService, long ToUser)> _endedByService = new(StringComparer.Ordinal);

    /// <summary>Lists a stream until the returned handle is disposed (once).</summary>
    public Listing Add(StreamRecord record)
    {
        var id = Interlocked.Increment(ref _nextId);
        _streams[id] = record;
        return new Listing(this, id);
    }

    /// <summary>The streams listed now, with their ids (each stream's id is unique for this process's life).</summary>
    public IEnumerable<KeyValuePair<long, StreamRecord>> All => _streams.Where(s => !s.Value.IsSession);

    /// <summary>The listed streams whose far end has answered: those carrying bytes now.</summary>
    public IEnumerable<KeyValuePair<long, StreamRecord>> Open => _streams.Where(s => s.Value.Start is not null && !s.Value.IsSession);

    /// <summary>Bytes carried each way by every stream so far, those still open and those that ended.</summary>
    public (long ToService, long ToUser) TotalBytes()
    {
        long toService = 0, toUser = 0;
        foreach (var (up, down) in TotalBytesByService().Values)
        {
            toService += up;
            toUser += down;
        }
        return (toService, toUser);
    }

    /// <summary>
    /// Bytes carried each way by each service's streams so far, open and ended. Only streams that
    /// were opened count: before that the service's name is what a user typed, not one an admin made.
    /// </summary>
    public Dictionary<string, (long ToService, long ToUser)> TotalBytesByService()
    {
        lock (_ending)
        {
            var totals = new Dictionary<string, (long ToService, long ToUser)>(_endedByService, StringComparer.Ordinal);
            foreach (var record in _streams.Values.Where(r => r.Start is not null && !r.IsSession))
            {
                var (up, down) = totals.GetValueOrDefault(record.Service);
                totals[record.Service] = (up + record.Meters.ToService, down + record.Meters.ToUser);
            }
            return totals;
        }
    }

    /// <summary>
    /// Bytes carried both ways by each user's streams so far, open and ended, for every user who
    /// has had a stream since the gateway started (the users an admin made: a bounded set).
    /// </summary>
    public Dictionary<string, long> TotalBytesByUser()
    {
        lock (_ending)
        {
            var totals = new Dictionary<string, long>(_endedByUser, StringComparer.Ordinal);
            foreach (var record in _streams.Values.Where(r => r.Start is not null && !r.IsSession))
            {
                totals[record.User.Name] = totals.GetValueOrDefault(record.User.Name) + record.Meters.ToService + record.Meters.ToUser;
            }
            return totals;
        }
    }

    private void Remove(long id)
    {
        lock (_ending)
        {
            if (_streams.TryRemove(id, out var record) && record.Start is not null && !record.IsSession)
            {
                var (toService, toUser) = (record.Meters.ToService, record.Meters.ToUser);
                _endedByUser[record.User.Name] = _endedByUser.GetValueOrDefault(record.User.Name) + toService + toUser;
                var (up, down) = _endedByService.GetValueOrDefault(record.Service);
                _endedByService[record.Service] = (up + toService, down + toUser);
            }
        }
    }

    public sealed class Listing(LiveStreams streams, long id) : IDisposable
    {
        public long Id { get; } = id;

        public void Dispose() => streams.Remove(Id);
    }
}
