using Jumpgate.Core.Config;

namespace Jumpgate.Gateway.Routing;

/// <summary>
/// The words of every refusal a stream or a request can meet before it reaches a service, said
/// once so the tunnel, the HTTP proxy and the API say the same thing. A rule's refusal is the
/// policy's own (<see cref="Access.AccessPolicy.Refusal"/>), an agent's in <see cref="Agents.AgentStreams"/>.
/// </summary>
internal static class Refusals
{
    public static string InvalidHost(string host) => $"'{Clip(host)}' is not a valid host name";

    public static string UnknownHost(string host) => $"unknown host {host}: no agent serves it (`jumpgate ls` lists the hosts you can reach)";

    public static string Offline(string host, string agent, TimeSpan since) =>
        $"host {host} is offline: agent {agent} last seen {Durations.Humanize(since)} ago";

    /// <summary>Names only the services the user may reach: the others are none of their business.</summary>
    public static string NoSuchService(string host, string service, IEnumerable<string> offered)
    {
        var names = string.Join(", ", offered);
        return $"host {host} has no service '{Clip(service)}' (it has: {(names.Length == 0 ? "none" : names)})";
    }

    /// <summary>Every replica of a service fails its agent's health check: each with the reason its agent gave.</summary>
    public static string Unhealthy(string host, string service, IEnumerable<(string Agent, string? Reason)> replicas) =>
        $"{host}:{service} is down: " + string.Join("; ", replicas.OrderBy(r => r.Agent, StringComparer.Ordinal).Select(r => $"agent {r.Agent}'s health check fails ({r.Reason ?? "no reason given"})"));

    /// <summary>What a user asked for, cut to a length that a log line and a refusal can carry.</summary>
    public static string Clip(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
