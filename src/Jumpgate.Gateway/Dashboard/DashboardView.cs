using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Tunnel;

namespace Jumpgate.Gateway.Dashboard;

/// <summary>Who is looking at a dashboard page: a user (through their rules) or an admin (everything).</summary>
internal sealed record DashboardViewer(string Name, bool IsAdmin, WebSession Session);

/// <summary>
/// Cuts the gateway's live state to what one viewer may see. An admin sees everything. A user
/// sees the hosts and services their rules allow (with each service's replicas), the agents that
/// serve those hosts (but not their addresses, nor the hosts the user may not reach), and their
/// own streams only: who else uses the gateway, and for what, is not theirs to know, so a rule
/// that lets two users reach one host shows neither the other's streams.
/// </summary>
internal sealed class DashboardView(AgentRegistry registry, IHostStore hosts, LiveStreams streams, AccessCache access, ServiceRouter router)
{
    public DashboardSnapshot Build(DashboardViewer viewer, string? hostHeader, long? adminVersion)
    {
        var policy = viewer.IsAdmin ? null : access.LoadPolicy(viewer.Name);
        bool HostAllowed(string host) => policy is null || policy.AllowsHost(host);
        bool ServiceAllowed(string host, string service) => policy is null || policy.Allows(host, service);

        var sessions = registry.All();
        var agents = sessions
            .Select(s => (Session: s, Hosts: s.Hosts.Values.Where(h => h.Services.Any(x => ServiceAllowed(h.Name, x.Name))).Select(h => h.Name).Order(StringComparer.Ordinal).ToList()))
            .Where(a => viewer.IsAdmin || a.Hosts.Count > 0)
            .OrderBy(a => a.Session.Agent, StringComparer.Ordinal)
            .Select(a => new AgentRow(a.Session.Agent, a.Session.Version, viewer.IsAdmin ? a.Session.Remote : null, a.Session.Connected, a.Session.LastHeard, a.Session.Trunks, a.Hosts))
            .ToList();

        var hostRows = hosts.List()
            .Where(h => HostAllowed(h.Name))
            .GroupBy(h => h.Name, StringComparer.Ordinal)
            .Select(group => HostRow(group.Key, group.ToList(), sessions, ServiceAllowed, viewer.IsAdmin ? null : hostHeader))
            .Where(h => h.Services.Count > 0)
            .OrderBy(h => h.Name, StringComparer.Ordinal)
            .ToList();

        var streamRows = streams.Open
            .Where(s => (viewer.IsAdmin || s.Value.User.Name == viewer.Name))
            .OrderBy(s => s.Key)
            .Select(s => new StreamRow(s.Key, s.Value.User.Name, s.Value.Host, s.Value.Service, s.Value.Agent, s.Value.Meters.ToService, s.Value.Meters.ToUser, s.Value.Start!.Value))
            .ToList();

        return new DashboardSnapshot
        {
            Viewer = viewer.Name, Admin = viewer.IsAdmin, Agents = agents, Hosts = hostRows, Streams = streamRows,
            AdminVersion = viewer.IsAdmin ? adminVersion : null,
        };
    }

    /// <summary>One host: its services from an online agent's announcement (else from the store's memory), each with its replicas now.</summary>
    private HostRow HostRow(string name, List<KnownHost> known, IReadOnlyList<AgentSession> sessions, Func<string, string, bool> allowed, string? linksFor)
    {
        var online = sessions.Where(s => s.Hosts.ContainsKey(name)).OrderBy(s => s.Agent, StringComparer.Ordinal).ToList();
        IEnumerable<ServiceAnnouncement> announced = online.Count > 0 ? online.SelectMany(s => s.Hosts[name].Services) : known.SelectMany(k => k.Services);
        var services = announced
            .Where(s => allowed(name, s.Name))
            .DistinctBy(s => s.Name)
            .OrderBy(s => s.Name, StringComparer.Ordinal)
            .Select(s => new ServiceRow(
                s.Name, s.Http,
                s.Http && linksFor is not null ? router.UrlOf(s.Subdomain ?? ServiceRouter.LabelOf(s.Name, name), linksFor) : null,
                [.. online.Select(session => session.ReplicaOf(name, s.Name)).OfType<Replica>()
                    .Select(r => new ReplicaRow(r.Agent, r.Health.Healthy, r.Health.LastFailure, r.OpenStreams))]))
            .ToList();
        return new HostRow(name, online.Count > 0, online.Count > 0 ? null : known.Max(k => k.LastSeen), services);
    }
}
