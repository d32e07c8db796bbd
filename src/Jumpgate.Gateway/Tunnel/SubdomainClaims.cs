using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>A <c>subdomain:</c> the gateway did not grant: the service keeps its <c>service--host</c> label.</summary>
internal sealed record SubdomainRefusal(string Host, string Service, string Label, string Reason);

/// <summary>
/// Decides which declared <c>subdomain:</c> labels an agent may have, so that no agent can answer
/// for another host's service. A label is granted only when both hold:
/// <list type="number">
/// <item>the agent's host patterns allow the label as a name: an admin allots labels through the
/// patterns they give the agent (<c>--hosts 'node*,tb'</c> lets it use <c>tb</c>);</item>
/// <item>no other host and service holds the label, online or remembered in the store, whether as
/// its own <c>service--host</c> label or as a subdomain granted earlier.</item>
/// </list>
/// Replicas (the same host and service, from any agent) share a label already granted to that
/// host and service without needing it allotted themselves; nothing else shares.
/// A refused label is stripped from the announcement before it is registered or stored, so the
/// router never sees it. Callers serialise <see cref="Settle"/> with registering the session, so
/// two agents cannot both take a free label at the same moment.
/// </summary>
internal sealed class SubdomainClaims(IPrincipalStore principals, IHostStore hosts, AgentRegistry registry)
{
    /// <summary>Strips every subdomain of <paramref name="hosts"/> that <paramref name="agent"/> may not have; returns why each was refused.</summary>
    public IReadOnlyList<SubdomainRefusal> Settle(Principal agent, Dictionary<string, HostAnnouncement> hosts)
    {
        if (!hosts.Values.Any(h => h.Services.Any(s => s.Subdomain is not null)))
        {
            return [];
        }
        var holders = HoldersExcept(agent.Name);
        var refusals = new List<SubdomainRefusal>();
        foreach (var host in hosts.Values.ToList())
        {
            var services = host.Services.ToList();
            for (var i = 0; i < services.Count; i++)
            {
                if (services[i] is not { Subdomain: { } label } service)
                {
                    continue;
                }
                var fallback = ServiceRouter.LabelOf(service.Name, host.Name);
                var owner = (host.Name, service.Name);
                var held = holders.GetValueOrDefault(label) ?? [];
                // A replica shares a label already granted to its host and service, which this agent may serve.
                var replica = held.Count > 0 && held.All(h => h == owner);
                string? reason = null;
                if (!replica && (agent.HostPatterns is not { } patterns || !patterns.Allows(label)))
                {
                    reason = $"subdomain {label} is not allotted to agent {agent.Name} (allowed: {agent.HostPatterns?.ToString() ?? "none"}); an admin allots it by adding {label} to the agent's hosts";
                }
                else if (!replica && held.Count > 0)
                {
                    reason = $"subdomain {label} already belongs to another host's service";
                }
                if (reason is null)
                {
                    Hold(holders, label, owner);
                    continue;
                }
                services[i] = service with { Subdomain = null };
                refusals.Add(new SubdomainRefusal(host.Name, service.Name, label, $"service {service.Name} on {host.Name} is served on {fallback} only: {reason}"));
            }
            hosts[host.Name] = host with { Services = services };
        }
        return refusals;
    }

    /// <summary>Every label other agents' hosts hold now: online sessions and the store's remembered hosts.</summary>
    private Dictionary<string, HashSet<(string Host, string Service)>> HoldersExcept(string agent)
    {
        var patterns = principals.List(PrincipalKind.Agent)
            .ToDictionary(p => p.Name, p => p.HostPatterns is { } text ? HostPatterns.Parse(text) : null, StringComparer.Ordinal);
        var holders = new Dictionary<string, HashSet<(string, string)>>(StringComparer.Ordinal);
        void HoldAll(string owner, string host, IEnumerable<ServiceAnnouncement> services)
        {
            foreach (var service in services)
            {
                Hold(holders, ServiceRouter.LabelOf(service.Name, host), (host, service.Name));
                // A subdomain counts only if its agent may still have it: a claim stored before this
                // rule existed, or one whose agent's patterns have since narrowed, holds nothing.
                if (service.Subdomain is { } label && patterns.GetValueOrDefault(owner)?.Allows(label) == true)
                {
                    Hold(holders, label, (host, service.Name));
                }
            }
        }
        foreach (var session in registry.All().Where(s => s.Agent != agent))
        {
            foreach (var host in session.Hosts.Values)
            {
                HoldAll(session.Agent, host.Name, host.Services);
            }
        }
        // The agent's own stored hosts are about to be replaced by what it announces now.
        foreach (var known in hosts.List().Where(k => k.Agent != agent))
        {
            HoldAll(known.Agent, known.Name, known.Services);
        }
        return holders;
    }

    private static void Hold(Dictionary<string, HashSet<(string, string)>> holders, string label, (string Host, string Service) owner)
    {
        if (!holders.TryGetValue(label, out var owners))
        {
            holders[label] = owners = [];
        }
        owners.Add(owner);
    }
}
