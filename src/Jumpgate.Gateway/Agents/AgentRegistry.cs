using System.Collections.Concurrent;

namespace Jumpgate.Gateway.Agents;

/// <summary>The agents connected right now, and which of them serve each host.</summary>
internal sealed class AgentRegistry
{
    private readonly ConcurrentDictionary<string, AgentSession> _byAgent = new(StringComparer.Ordinal);

    /// <summary>Adds a session; an older session of the same agent (a restart the gateway has not yet noticed) is ended.</summary>
    public void Register(AgentSession session)
    {
        AgentSession? previous = null;
        _byAgent.AddOrUpdate(session.Agent, session, (_, old) =>
        {
            previous = old;
            return session;
        });
        previous?.End();
    }

    /// <summary>Removes the session if it is still the agent's current one.</summary>
    public bool Unregister(AgentSession session) =>
        _byAgent.TryRemove(new KeyValuePair<string, AgentSession>(session.Agent, session));

    public AgentSession? FindSession(string agent, string id) =>
        _byAgent.TryGetValue(agent, out var session) && session.Id == id ? session : null;

    public IReadOnlyCollection<AgentSession> All() => [.. _byAgent.Values];

    /// <summary>Sessions serving a host, those with a trunk ready first.</summary>
    public IReadOnlyList<AgentSession> Serving(string host) =>
        _byAgent.Values.Where(s => s.Hosts.ContainsKey(host)).OrderByDescending(s => s.OpenTrunks).ToList();
}
