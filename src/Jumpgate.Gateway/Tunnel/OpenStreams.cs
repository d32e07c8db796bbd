using System.Collections.Concurrent;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// The streams carrying bytes now, from their far end's answer to their end: what the admin API's
/// stream list shows and what the byte counters add to the closed streams' totals.
/// </summary>
internal sealed class OpenStreams
{
    private readonly ConcurrentDictionary<StreamRecord, byte> _streams = new(ReferenceEqualityComparer.Instance);

    public void Add(StreamRecord stream) => _streams.TryAdd(stream, 0);

    public bool Remove(StreamRecord stream) => _streams.TryRemove(stream, out _);

    public int Count => _streams.Count;

    public IEnumerable<StreamRecord> All() => _streams.Keys;
}
