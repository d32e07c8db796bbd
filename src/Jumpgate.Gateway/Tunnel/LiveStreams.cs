using System.Collections.Concurrent;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// The user streams this gateway carries now, for whoever watches (the dashboard): each stream's
/// record from its request until it ends, and the bytes of those that ended, so that the bytes
/// moved in an interval can be read as the difference of two totals. Nothing here decides anything.
/// </summary>
internal sealed class LiveStreams
{
    private readonly ConcurrentDictionary<long, StreamRecord> _streams = new();
    private readonly Lock _ending = new();
    private long _nextId;
    private long _endedToService;
    private long _endedToUser;
    private readonly Dictionary<string, long> _endedByUser = new(StringComparer.Ordinal);

    /// <summary>Lists a stream until the returned handle is disposed (once).</summary>
    public Listing Add(StreamRecord record)
    {
        var id = Interlocked.Increment(ref _nextId);
        _streams[id] = record;
        return new Listing(this, id);
    }

    /// <summary>The streams listed now, with their ids (each stream's id is unique for this process's life).</summary>
    public IEnumerable<KeyValuePair<long, StreamRecord>> All => _streams;

    /// <summary>Bytes carried each way by every stream so far, those still open and those that ended.</summary>
    public (long ToService, long ToUser) TotalBytes()
    {
        // Under the lock a stream that ends is either still listed or counted as ended, never both or neither.
        lock (_ending)
        {
            long toService = _endedToService, toUser = _endedToUser;
            foreach (var record in _streams.Values)
            {
                toService += record.Meters.ToService;
                toUser += record.Meters.ToUser;
            }
            return (toService, toUser);
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
            foreach (var record in _streams.Values)
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
            if (_streams.TryRemove(id, out var record))
            {
                _endedToService += record.Meters.ToService;
                _endedToUser += record.Meters.ToUser;
                _endedByUser[record.User.Name] = _endedByUser.GetValueOrDefault(record.User.Name) + record.Meters.ToService + record.Meters.ToUser;
            }
        }
    }

    public sealed class Listing(LiveStreams streams, long id) : IDisposable
    {
        public long Id { get; } = id;

        public void Dispose() => streams.Remove(Id);
    }
}
