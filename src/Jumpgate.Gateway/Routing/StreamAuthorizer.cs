using System.Globalization;
using Jumpgate.Core.Naming;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Gateway.Routing;

/// <summary>What an authorisation found: a serving agent session and the service's name, or a refusal.</summary>
internal sealed record Authorization(AgentSession? Session, string Service, string? Refusal, bool Denied)
{
    public bool Allowed => Refusal is null;
}

/// <summary>
/// Decides whether a user's stream may go ahead and where to: the user's rules, the host name,
/// the agent sessions that serve the host, the service by name or port. Rules come first, so a
/// refused user learns nothing about which hosts or services exist. Every path that opens a
/// stream or forwards a request asks here.
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
            return new Authorization(null, asked, Refusals.InvalidHost(host), Denied: false);
        }
        var policy = access.LoadPolicy(user);
        if (!policy.AllowsHost(host))
        {
            return Deny(policy, host, asked);
        }
        var sessions = registry.Serving(host);
        var found = Find(sessions, host, service);
        if (found is not { } target)
        {
            // A service the user may not reach is denied whether or not it exists, so its absence tells nothing either.
            return policy.Allows(host, asked)
                ? new Authorization(null, asked, sessions.Count == 0 ? Absence(host) : Refusals.NoSuchService(host, service, Offered(sessions[0], host, policy)), Denied: false)
                : Deny(policy, host, asked);
        }
        return policy.Allows(host, target.Service) ? new Authorization(target.Session, target.Service, null, Denied: false) : Deny(policy, host, target.Service);
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

    private static Authorization Deny(AccessPolicy policy, string host, string service) => new(null, service, policy.Refusal(host, service), Denied: true);

    /// <summary>The first session whose host has the service: by name, port 22 as ssh, or by its port.</summary>
    private static (AgentSession Session, string Service)? Find(IReadOnlyList<AgentSession> sessions, string host, string service)
    {
        foreach (var session in sessions)
        {
            var services = session.Hosts[host].Services;
            var match = services.FirstOrDefault(s => s.Name == service)
                ?? (service == SshPort ? services.FirstOrDefault(s => s.Name == "ssh") : null)
                ?? services.FirstOrDefault(s => s.Port.ToString(CultureInfo.InvariantCulture) == service);
            if (match is not null)
            {
                return (session, match.Name);
            }
        }
        return null;
    }

    private static IEnumerable<string> Offered(AgentSession session, string host, AccessPolicy policy) =>
        session.Hosts[host].Services.Where(s => policy.Allows(host, s.Name)).Select(s => s.Name);
}
