using System.Net;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Gateway.Http;

/// <summary>What a request's Host names: the gateway itself, one service's subdomain, or something the gateway does not serve.</summary>
internal enum HostKind
{
    Gateway,
    Service,
    Foreign,
}

/// <summary>A service subdomain resolved to a host and service, with the agents serving it now (none when it is offline).</summary>
internal sealed record ServiceRoute(string Label, string Host, string Service, IReadOnlyList<(AgentSession Session, ServiceAnnouncement Announcement)> Online);

/// <summary>
/// Maps a request's Host to a service. Each HTTP service is one DNS label under the gateway's
/// domain, so one wildcard certificate covers them all: <c>service--host.domain</c> (names never
/// contain a double dash), or the label the agent declared with <c>subdomain:</c>.
/// </summary>
internal sealed class ServiceRouter(GatewayOptions options, AgentRegistry registry, IHostStore hosts)
{
    public const string Separator = "--";

    public string Domain => options.Domain;

    /// <summary>Classifies a Host header (port ignored); for a service subdomain, <paramref name="label"/> is its label.</summary>
    public HostKind Classify(string? hostHeader, out string label)
    {
        label = "";
        var host = StripPort(hostHeader ?? "").TrimEnd('.').ToLowerInvariant();
        if (host.Length == 0 || host == options.Domain || IPAddress.TryParse(host.Trim('[', ']'), out _))
        {
            return HostKind.Gateway;
        }
        var suffix = "." + options.Domain;
        if (host.EndsWith(suffix, StringComparison.Ordinal) && host.Length > suffix.Length)
        {
            label = host[..^suffix.Length];
            return label.Contains('.', StringComparison.Ordinal) ? HostKind.Foreign : HostKind.Service;
        }
        return HostKind.Foreign;
    }

    private volatile OnlineServices _online = new([], new Dictionary<string, ServiceRoute>(StringComparer.Ordinal), new HashSet<string>());

    /// <summary>The host and service a label names, whether or not it is online; null when it names nothing the gateway knows.</summary>
    public ServiceRoute? Resolve(string label)
    {
        var sessions = registry.All();
        var online = _online;
        if (!ReferenceEquals(online.Sessions, sessions))
        {
            // An agent came or went: index what is online now, once, instead of searching every request.
            _online = online = OnlineServices.Of(sessions);
        }
        if (online.Targets.TryGetValue(label, out var target))
        {
            return target;
        }
        if (online.Ambiguous.Contains(label))
        {
            return null;
        }
        var remembered = hosts.List()
            .SelectMany(known => known.Services.Where(s => s.Http && LabelsOf(s, known.Name).Contains(label)).Select(s => (Host: known.Name, Service: s.Name)))
            .Distinct()
            .ToList();
        if (remembered.Count == 1)
        {
            return new ServiceRoute(label, remembered[0].Host, remembered[0].Service, []);
        }
        if (remembered.Count > 1)
        {
            // Only records written before labels were vetted can disagree: serve none of them.
            return null;
        }
        // Not known at all: still answer with what the label would mean, so the refusal can name it.
        var separator = label.IndexOf(Separator, StringComparison.Ordinal);
        if (separator > 0 && Names.IsValid(label[..separator]) && Names.IsValid(label[(separator + 2)..]))
        {
            return new ServiceRoute(label, label[(separator + 2)..], label[..separator], []);
        }
        return null;
    }

    public static string LabelOf(string service, string host) => service + Separator + host;

    /// <summary>The labels an HTTP service answers to: <c>service--host</c>, and the subdomain its agent declared, if any.</summary>
    private static IEnumerable<string> LabelsOf(ServiceAnnouncement service, string host)
    {
        var label = LabelOf(service.Name, host);
        yield return label;
        if (service.Subdomain is { } subdomain && subdomain != label)
        {
            yield return subdomain;
        }
    }

    /// <summary>
    /// Every label the connected agents serve, with its replicas, for one set of sessions. The
    /// gateway grants a subdomain to one host and service only (<c>Tunnel.SubdomainClaims</c>), so a
    /// label never leads to two; if it ever did, it is <see cref="Ambiguous"/> and leads nowhere
    /// rather than to whichever agent happens to come first.
    /// </summary>
    private sealed record OnlineServices(IReadOnlyList<AgentSession> Sessions, IReadOnlyDictionary<string, ServiceRoute> Targets, IReadOnlySet<string> Ambiguous)
    {
        public static OnlineServices Of(IReadOnlyList<AgentSession> sessions)
        {
            var byLabel = new Dictionary<string, List<(AgentSession Session, string Host, ServiceAnnouncement Announcement)>>(StringComparer.Ordinal);
            // Agent order only orders the replicas of one service.
            foreach (var session in sessions.OrderBy(s => s.Agent, StringComparer.Ordinal))
            {
                foreach (var host in session.Hosts.Values)
                {
                    foreach (var service in host.Services.Where(s => s.Http))
                    {
                        foreach (var label in LabelsOf(service, host.Name))
                        {
                            if (!byLabel.TryGetValue(label, out var serving))
                            {
                                byLabel[label] = serving = [];
                            }
                            serving.Add((session, host.Name, service));
                        }
                    }
                }
            }
            var targets = new Dictionary<string, ServiceRoute>(StringComparer.Ordinal);
            var ambiguous = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (label, serving) in byLabel)
            {
                var (host, service) = (serving[0].Host, serving[0].Announcement.Name);
                if (serving.Any(o => o.Host != host || o.Announcement.Name != service))
                {
                    ambiguous.Add(label);
                    continue;
                }
                targets[label] = new ServiceRoute(label, host, service, [.. serving.Select(o => (o.Session, o.Announcement))]);
            }
            return new OnlineServices(sessions, targets, ambiguous);
        }
    }

    /// <summary>The public address of a service: its subdomain, on the port the gateway was reached on.</summary>
    public string UrlOf(string label, string? gatewayHostHeader)
    {
        var port = PortOf(gatewayHostHeader);
        return $"https://{label}.{options.Domain}{(port is null ? "" : ":" + port)}/";
    }

    /// <summary>The gateway's own address as the browser should see it: its domain, on the port of the request.</summary>
    public string GatewayUrl(string? hostHeader)
    {
        var port = PortOf(hostHeader);
        return $"https://{options.Domain}{(port is null ? "" : ":" + port)}";
    }

    /// <summary>
    /// Every service subdomain on the port of the request, as a CSP source (<c>https://*.DOMAIN:PORT</c>):
    /// where a sign-in form's redirect goes on, which browsers check against the form's <c>form-action</c>.
    /// </summary>
    public string ServiceOrigins(string? hostHeader)
    {
        var port = PortOf(hostHeader);
        return $"https://*.{options.Domain}{(port is null ? "" : ":" + port)}";
    }

    private static string? PortOf(string? hostHeader)
    {
        var host = hostHeader ?? "";
        var colon = host.LastIndexOf(':');
        return colon > 0 && colon > host.LastIndexOf(']') && host[(colon + 1)..] is { Length: > 0 } port && port != "443" ? port : null;
    }

    private static string StripPort(string host)
    {
        var colon = host.LastIndexOf(':');
        return colon > 0 && colon > host.LastIndexOf(']') ? host[..colon] : host;
    }
}
