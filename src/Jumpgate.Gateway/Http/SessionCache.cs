using System.Diagnostics;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Gateway.Http;

/// <summary>A session the store vouched for at store generation <see cref="Generation"/>, with its secret's hash (never the secret).</summary>
internal sealed record CachedSession(byte[] SecretHash, WebSession Session, long Generation);

/// <summary>
/// The live sessions read recently, keyed by session id, the least recently used dropped first
/// when full. Only sessions the store found are ever added, so a stranger's cookies, well-formed
/// or not, take no room; its size is fixed whatever is sent.
/// </summary>
internal sealed class SessionCache(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<CachedSession>> _byId = new(StringComparer.Ordinal);

    /// <summary>Most recently used first.</summary>
    private readonly LinkedList<CachedSession> _order = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byId.Count;
            }
        }
    }

    public bool TryGet(string id, out CachedSession cached)
    {
        lock (_lock)
        {
            if (_byId.TryGetValue(id, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                cached = node.Value;
                return true;
            }
        }
        cached = null!;
        return false;
    }

    public void Set(CachedSession cached)
    {
        lock (_lock)
        {
            if (_byId.Remove(cached.Session.Id, out var old))
            {
                _order.Remove(old);
            }
            _byId[cached.Session.Id] = _order.AddFirst(cached);
            if (_byId.Count > capacity)
            {
                var oldest = _order.Last!;
                _order.RemoveLast();
                _byId.Remove(oldest.Value.Session.Id);
            }
            Debug.Assert(_byId.Count == _order.Count && _byId.Count <= capacity);
        }
    }

    public void Remove(string id)
    {
        lock (_lock)
        {
            if (_byId.Remove(id, out var node))
            {
                _order.Remove(node);
            }
        }
    }

    /// <summary>Forgets every session of one sign-in (a sign-out): a walk over at most <c>capacity</c> entries, on a rare event.</summary>
    public void RemoveSignIn(string signIn)
    {
        lock (_lock)
        {
            for (var node = _order.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Session.SignIn == signIn)
                {
                    _order.Remove(node);
                    _byId.Remove(node.Value.Session.Id);
                }
                node = next;
            }
        }
    }
}
