using System.Collections.Concurrent;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// The agents connected right now, and which of them serve each host. Agents come and go
/// rarely; streams and requests ask on every open, so the sessions are also kept as one array
/// that is replaced, never changed, on each arrival or departure: readers take it without a
/// lock, and a reader can tell from its identity whether anything changed since it last looked.
/// </summary>
internal sealed class AgentRegistry
{
    private readonly ConcurrentDictionary<string, AgentSession> _byAgent = new(StringComparer.Ordinal);
    private readonly Lock _changing = new();
    private volatile AgentSession[] _sessions = [];

    /// <summary>
    /// Adds a session; an older session of the same agent (a restart the gateway has not yet noticed) is ended.
    /// Returns false when it replaced one: the agent was connected already.
    /// </summary>
    public bool Register(AgentSession session)
    {
        AgentSession? previous;
        lock (_changing)
        {
            _byAgent.TryGetValue(session.Agent, out previous);
            _byAgent[session.Agent] = session;
            _sessions = [.. _byAgent.Values];
        }
        previous?.End();
        return previous is null;
    }

    /// <summary>Removes the session if it is still the agent's current one.</summary>
    public bool Unregister(AgentSession session)
    {
        lock (_changing)
        {
            if (!_byAgent.TryRemove(new KeyValuePair<string, AgentSession>(session.Agent, session)))
            {
                return false;
            }
            _sessions = [.. _byAgent.Values];
            return true;
        }
    }

    /// <summary>The agent's session now, if it is connected.</summary>
    public AgentSession? Current(string agent) => _byAgent.GetValueOrDefault(agent);

    public AgentSession? FindSession(string agent, string id) =>
        _byAgent.TryGetValue(agent, out var session) && session.Id == id ? session : null;

    /// <summary>The sessions now: the same instance until an agent comes or goes.</summary>
    public IReadOnlyList<AgentSession> All() => _sessions;

    /// <summary>Sessions serving a host, those with a trunk ready first.</summary>
    public IReadOnlyList<AgentSession> Serving(string host)
    {
        List<AgentSession>? serving = null;
        foreach (var session in _sessions)
        {
            if (session.Hosts.ContainsKey(host))
            {
                (serving ??= []).Add(session);
            }
        }
        return serving switch
        {
            null => [],
            { Count: 1 } => serving,
            _ => [.. serving.OrderByDescending(s => s.OpenTrunks)],
        };
    }
}
