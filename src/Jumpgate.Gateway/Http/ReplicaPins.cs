using System.Diagnostics;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Routing;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// Which replica each browser session of a service uses: the first request picks one as a stream
/// would (fewest open, ties at random), and the session stays with that agent for as long as the
/// agent serves the service and its check passes, so a Jupyter kernel made on one machine is
/// found there again. Pins name the agent, not its session, so a reconnect keeps them. At most
/// <see cref="Capacity"/> are kept, the least recently used forgotten first; a forgotten session
/// is pinned afresh by its next request.
/// </summary>
internal sealed class ReplicaPins
{
    /// <summary>As many as the session cache holds: a pin is a few dozen bytes.</summary>
    public const int Capacity = BrowserSessions.CacheCapacity;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<(string Session, string Agent)>> _bySession = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Session, string Agent)> _order = new();

    internal int Count
    {
        get
        {
            lock (_lock)
            {
                return _bySession.Count;
            }
        }
    }

    /// <summary>The replica for browser session <paramref name="session"/>: its pinned one while that is available, else a new choice; null when none is available.</summary>
    public Replica? Choose(string session, IReadOnlyList<Replica> replicas)
    {
        if (replicas.Count == 1)
        {
            // Nowhere else to go: no pin to keep, no lock on a request's path.
            return replicas[0].Available ? replicas[0] : null;
        }
        var pinned = Pinned(session);
        if (pinned is not null && replicas.FirstOrDefault(r => r.Agent == pinned) is { Available: true } kept)
        {
            return kept;
        }
        if (StreamAuthorizer.Choose(replicas) is not [var chosen, ..])
        {
            return null;
        }
        Pin(session, chosen.Agent);
        return chosen;
    }

    private string? Pinned(string session)
    {
        lock (_lock)
        {
            if (!_bySession.TryGetValue(session, out var node))
            {
                return null;
            }
            _order.Remove(node);
            _order.AddFirst(node);
            return node.Value.Agent;
        }
    }

    private void Pin(string session, string agent)
    {
        lock (_lock)
        {
            if (_bySession.Remove(session, out var old))
            {
                _order.Remove(old);
            }
            _bySession[session] = _order.AddFirst((session, agent));
            if (_bySession.Count > Capacity)
            {
                _bySession.Remove(_order.Last!.Value.Session);
                _order.RemoveLast();
            }
            Debug.Assert(_bySession.Count == _order.Count && _bySession.Count <= Capacity);
        }
    }
}
