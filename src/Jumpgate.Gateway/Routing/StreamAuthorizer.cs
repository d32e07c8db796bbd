using System.Globalization;
using Jumpgate.Core.Naming;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Gateway.Routing;

/// <summary>
/// What an authorisation found: the replicas that may take the stream, the one to try first
/// first, and the service's name; or a refusal.
/// </summary>
internal sealed record Authorization(IReadOnlyList<Replica> Replicas, string Service, string? Refusal, bool Denied)
{
    public bool Allowed => Refusal is null;

    /// <summary>The replica to try first.</summary>
    public Replica? Replica => Replicas.Count > 0 ? Replicas[0] : null;

    public AgentSession? Session => Replica?.Session;

    public static Authorization Refused(string service, string refusal, bool denied) => new([], service, refusal, denied);
}

/// <summary>
/// Decides whether a user's stream may go ahead and where to: the user's rules, the host name,
/// the agent sessions that serve the host, the service by name or port. Rules come first, so a
/// refused user learns nothing about which hosts or services exist. Every path that opens a
/// stream or forwards a request asks here. Where several agents serve the service (replicas),
/// a stream goes to a live one whose health check passes, the one carrying the fewest streams
/// (ties at random), with the others behind it in case it cannot open the stream.
/// </summary>
internal sealed class StreamAuthorizer(AccessCache access, IHostStore hosts, AgentRegistry registry, TimeProvider time)
{
    /// <summary>
    /// A stream to <paramref name="host"/>:<paramref name="service"/> (a name, or a port as `ssh`
    /// asks with %p). <see cref="Authorization.Denied"/> marks a refusal by the rules, which the audit
    /// records apart from a refusal for any other reason.
    /// </summary>
    public Authorization Authorize(string user, string host, string service)
    {
        var asked = Refusals.Clip(service == SshPort ? "ssh" : service);
        if (!Names.IsValid(host))
        {
            return Authorization.Refused(asked, Refusals.InvalidHost(host), denied: false);
        }
        var policy = access.LoadPolicy(user);
        if (!policy.AllowsHost(host))
        {
            return Deny(policy, host, asked);
        }
        var sessions = registry.Serving(host);
        var found = Find(sessions, host, service);
        if (found.Count == 0)
        {
            // A service the user may not reach is denied whether or not it exists, so its absence tells nothing either.
            return policy.Allows(host, asked)
                ? Authorization.Refused(asked, sessions.Count == 0 ? Absence(host) : Refusals.NoSuchService(host, service, Offered(sessions[0], host, policy)), denied: false)
                : Deny(policy, host, asked);
        }
        var name = found[0].Service;
        if (!policy.Allows(host, name))
        {
            return Deny(policy, host, name);
        }
        var available = Choose(found);
        return available.Count > 0
            ? new Authorization(available, name, null, Denied: false)
            : Authorization.Refused(name, Refusals.Unhealthy(host, name, found.Select(r => (r.Agent, r.Health.LastFailure))), denied: false);
    }

    /// <summary>
    /// The rules' refusal of <paramref name="host"/>:<paramref name="service"/> for <paramref name="user"/>
    /// as of store generation <paramref name="readAt"/> (read for the same request); null when they allow it.
    /// </summary>
    public string? RuleRefusal(string user, string host, string service, long readAt)
    {
        var policy = access.LoadPolicy(user, readAt);
        return Names.IsValid(host) && policy.Allows(host, service) ? null : policy.Refusal(host, service);
    }

    /// <summary>Why no agent serves <paramref name="host"/> now: never seen, or offline since its agent was last seen.</summary>
    public string Absence(string host)
    {
        var known = hosts.List(host);
        if (known.Count == 0)
        {
            return Refusals.UnknownHost(host);
        }
        return Refusals.Offline(host, known[0].Agent, time.GetUtcNow() - known[0].LastSeen);
    }

    /// <summary>The port `ssh` asks for (%p) when a user connects to a host's ssh service.</summary>
    private const string SshPort = "22";

    private static Authorization Deny(AccessPolicy policy, string host, string service) => Authorization.Refused(service, policy.Refusal(host, service), denied: true);

    /// <summary>Each session's replica of the service: by name, port 22 as ssh, or by its port.</summary>
    private static List<Replica> Find(IReadOnlyList<AgentSession> sessions, string host, string service)
    {
        var found = new List<Replica>(sessions.Count);
        foreach (var session in sessions)
        {
            var services = session.Hosts[host].Services;
            var match = services.FirstOrDefault(s => s.Name == service)
                ?? (service == SshPort ? services.FirstOrDefault(s => s.Name == "ssh") : null)
                ?? services.FirstOrDefault(s => s.Port.ToString(CultureInfo.InvariantCulture) == service);
            // Replicas are one service under one name: a second agent that calls the port something else is not one of them.
            if (match is not null && (found.Count == 0 || found[0].Service == match.Name) && session.ReplicaOf(host, match.Name) is { } replica)
            {
                found.Add(replica);
            }
        }
        return found;
    }

    /// <summary>
    /// The replicas that may take a new stream, best first: a session with a trunk ready before one
    /// still dialling its trunks, then the fewest streams open, ties in random order so that equal
    /// replicas share the new streams.
    /// </summary>
    internal static IReadOnlyList<Replica> Choose(IReadOnlyList<Replica> replicas)
    {
        if (replicas.Count == 1)
        {
            return replicas[0].Available ? replicas : [];
        }
        var available = replicas.Where(r => r.Available).ToArray();
        Random.Shared.Shuffle(available);
        // A stable sort after the shuffle: equal keys stay in random order.
        return [.. available.OrderBy(r => r.Session.OpenTrunks == 0).ThenBy(r => r.OpenStreams)];
    }

    private static IEnumerable<string> Offered(AgentSession session, string host, AccessPolicy policy) =>
        session.Hosts[host].Services.Where(s => policy.Allows(host, s.Name)).Select(s => s.Name);
}
