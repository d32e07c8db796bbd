using Jumpgate.Core.Api;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Config;
using Jumpgate.Core.Naming;
using System.Net;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.HostKeys;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Tunnel;

namespace Jumpgate.Gateway.Admin;

/// <summary>
/// Everything an admin can do to the store, checked and audited in one place, whether it comes
/// through the admin API (the actor is the admin token's owner) or from `jumpgate gateway … --dir`
/// on the gateway's own machine (the actor is local:OSUSER). Bad input throws
/// <see cref="InvalidOperationException"/> with words meant for the admin; every change is one
/// audit event naming who did what. Reads are not audited: they change nothing.
/// </summary>
internal sealed class AdminActions(GatewayStores store, string actor, string? source, Action<AuditEvent> audit, TimeProvider time)
{
    public IReadOnlyList<PrincipalView> List(PrincipalKind kind) =>
        [.. store.Principals.List(kind).Select(r => new PrincipalView(r.Name, PrincipalKinds.Text(kind), r.HostPatterns, r.Disabled, r.Created, r.Groups))];

    /// <summary>
    /// The agents the admin made, each as the running gateway sees it now (<paramref name="registry"/>)
    /// or as the store last saw it, and the live streams (<paramref name="live"/>); from the store
    /// alone (`--dir`) nobody can tell who is online or what flows, so both are null there.
    /// </summary>
    public GatewayStatus Status(AgentRegistry? registry, LiveStreams? live)
    {
        var known = store.Hosts.List();
        var sessions = registry?.All().ToDictionary(s => s.Agent, StringComparer.Ordinal) ?? [];
        var agents = List(PrincipalKind.Agent).Select(agent =>
        {
            var hosts = known.Where(h => h.Agent == agent.Name).ToList();
            if (!sessions.TryGetValue(agent.Name, out var session))
            {
                return new AgentStatus(agent.Name, false, null, null, hosts.Count > 0 ? hosts.Max(h => h.LastSeen) : null, 0,
                    [.. hosts.Select(h => h.Name).Distinct().Order(StringComparer.Ordinal)], 0);
            }
            var open = session.Hosts.Values.SelectMany(h => h.Services.Select(s => session.ReplicaOf(h.Name, s.Name)?.OpenStreams ?? 0)).Sum();
            return new AgentStatus(agent.Name, true, session.Remote, session.Connected, null, session.OpenTrunks, [.. session.Hosts.Keys.Order(StringComparer.Ordinal)], open);
        });
        var streams = live?.Open.Select(s => s.Value)
            .Select(r => new StreamStatus(r.User.Name, r.Host, r.Service, r.Agent, r.Start, r.Meters.ToService, r.Meters.ToUser))
            .OrderBy(r => r.Since)
            .ToList();
        return new GatewayStatus([.. agents], streams);
    }

    /// <summary>Adds a user, agent or admin and returns its first token (shown once, stored hashed).</summary>
    public IssuedToken Add(PrincipalKind kind, AddPrincipalRequest request)
    {
        var name = CheckName(request.Name, PrincipalKinds.Text(kind));
        HostPatterns? patterns = null;
        if (kind == PrincipalKind.Agent)
        {
            patterns = HostPatterns.Parse(request.Hosts ?? throw new InvalidOperationException($"give the host patterns agent {name} may serve, e.g. --hosts 'node*,lab-pc'"));
        }
        else if (request.Hosts is not null)
        {
            throw new InvalidOperationException($"only agents have host patterns; what a {PrincipalKinds.Text(kind)} may reach is up to the rules");
        }
        var groups = kind == PrincipalKind.User ? CheckGroups(request.Groups ?? []) : [];
        if (kind != PrincipalKind.User && request.Groups is { Count: > 0 })
        {
            throw new InvalidOperationException("only users are in groups");
        }
        var token = store.Principals.Add(kind, name, patterns, time.GetUtcNow(), groups);
        Record($"add_{PrincipalKinds.Text(kind)}", kind, name,
            kind == PrincipalKind.Agent ? $"added agent {name} for hosts '{patterns}'"
            : groups.Count > 0 ? $"added user {name} in {string.Join(", ", groups.Select(g => "@" + g))}"
            : $"added {PrincipalKinds.Text(kind)} {name}");
        return new IssuedToken(token.ToString());
    }

    public void SetDisabled(PrincipalKind kind, string name, bool disabled)
    {
        store.Principals.SetDisabled(kind, name, disabled);
        var verb = disabled ? "disable" : "enable";
        Record(verb, kind, name, $"{verb}d {PrincipalKinds.Text(kind)} {name}");
    }

    public IReadOnlyList<TokenView> Tokens() => [.. store.Tokens.List().Select(View)];

    public IssuedToken AddToken(AddTokenRequest request)
    {
        var kind = PrincipalKinds.Parse(request.Kind);
        var now = time.GetUtcNow();
        DateTimeOffset? expires = null;
        if (request.Expires is { } text)
        {
            if (!Durations.TryParse(text, out var span) || span <= TimeSpan.Zero)
            {
                throw new InvalidOperationException($"--expires '{text}' is not a duration such as 12h or 30d");
            }
            expires = now + span;
        }
        var token = store.Tokens.Add(kind, request.Name, now, expires);
        // The public id names the token in the trail (as `gateway tokens` does); the secret never appears.
        Record("token_add", kind, request.Name, $"issued token {token.Id} to {PrincipalKinds.Text(kind)} {request.Name}{(expires is { } e ? $", expiring {e:yyyy-MM-dd HH:mm:ss}Z" : "")}");
        return new IssuedToken(token.ToString());
    }

    public TokenView RevokeToken(string id)
    {
        var row = store.Tokens.Revoke(id);
        Record("token_revoke", row.Kind, row.Principal, $"revoked token {row.Id} of {PrincipalKinds.Text(row.Kind)} {row.Principal}");
        return View(row);
    }

    public IReadOnlyList<RuleView> Rules() => [.. store.Rules.List().Select(r => new RuleView(r.Subject, r.Hosts.ToString(), r.Services))];

    /// <summary>Adds a rule; granting what is granted already changes nothing and says so.</summary>
    public ChangeResult Grant(RuleRequest request)
    {
        var rule = ParseRule(request, requireUser: true);
        if (!store.Rules.Grant(rule, time.GetUtcNow()))
        {
            return new ChangeResult(false, $"{rule.Subject} may reach '{rule.Hosts}' ({rule.DescribeServices()}) already");
        }
        Record("grant", rule, $"granted {rule.Subject} '{rule.Hosts}' ({rule.DescribeServices()})");
        return new ChangeResult(true);
    }

    public void Revoke(RuleRequest request)
    {
        var rule = ParseRule(request, requireUser: false);
        store.Rules.Revoke(rule);
        Record("revoke", rule, $"revoked {rule.Subject} '{rule.Hosts}' ({rule.DescribeServices()})");
    }

    /// <summary>Puts a user into groups, or takes them out; rules on those groups apply to live streams within the re-check interval.</summary>
    public ChangeResult ChangeGroups(string user, IReadOnlyList<string> groups, bool add)
    {
        var checkedGroups = CheckGroups(groups);
        if (checkedGroups.Count == 0)
        {
            throw new InvalidOperationException("give at least one group");
        }
        if (!store.Principals.Exists(PrincipalKind.User, user))
        {
            throw new InvalidOperationException($"there is no user {user} (`jumpgate gateway users` lists them)");
        }
        var before = store.Principals.List(PrincipalKind.User).Single(u => u.Name == user).Groups;
        IReadOnlyList<string> changed;
        if (add)
        {
            changed = [.. checkedGroups.Except(before, StringComparer.Ordinal)];
            store.Principals.AddToGroups(user, changed);
        }
        else
        {
            changed = store.Principals.RemoveFromGroups(user, checkedGroups);
        }
        var unchanged = checkedGroups.Except(changed, StringComparer.Ordinal).Select(g => "@" + g).ToList();
        if (changed.Count > 0)
        {
            var list = string.Join(", ", changed.Select(g => "@" + g));
            Record(add ? "group_add" : "group_remove", PrincipalKind.User, user, add ? $"put user {user} in {list}" : $"took user {user} out of {list}");
        }
        return new ChangeResult(changed.Count > 0, unchanged.Count == 0 ? null
            : add ? $"{user} is in {string.Join(", ", unchanged)} already" : $"{user} is not in {string.Join(", ", unchanged)}");
    }

    /// <summary>The exposed ports, each with what the running gateway does with it (<paramref name="state"/>), or from the store alone.</summary>
    public IReadOnlyList<ExposureView> Exposed(IReadOnlyDictionary<string, string>? state) =>
        [.. store.Exposures.List().Select(e => View(e, state?.GetValueOrDefault(e.Name) ?? (state is null ? null : "not opened yet")))];

    /// <summary>
    /// Exposes a host's service on a public port to the sources the admin lists. An empty list is
    /// refused: a port open to the world must be asked for as 0.0.0.0/0 (or ::/0), never by omission.
    /// </summary>
    public ExposureView Expose(ExposeRequest request)
    {
        var colon = request.Target.LastIndexOf(':');
        var (host, service) = colon > 0 ? (request.Target[..colon], request.Target[(colon + 1)..]) : ("", "");
        if (!Names.IsValid(host) || !Names.IsValid(service))
        {
            throw new InvalidOperationException($"'{request.Target}' is not HOST:SERVICE, e.g. node1:ssh (names use {Names.Rule})");
        }
        var name = CheckName(request.Name ?? $"{host}-{service}", "exposure");
        if (request.Port is < 1 or > 65535)
        {
            throw new InvalidOperationException($"--port {request.Port} is not a TCP port (1-65535)");
        }
        if (request.Allow.Count == 0)
        {
            throw new InvalidOperationException("give the sources that may connect with --allow CIDR (repeatable), e.g. --allow 203.0.113.0/24; a port open to everyone must be asked for as --allow 0.0.0.0/0");
        }
        var allow = new List<IPNetwork>();
        foreach (var text in request.Allow)
        {
            if (!IPNetwork.TryParse(text, out var network))
            {
                throw new InvalidOperationException($"--allow '{text}' is not an address range such as 203.0.113.0/24 or 10.1.2.3/32");
            }
            allow.Add(network);
        }
        var exposure = new Exposure(name, host, service, request.Port, allow, time.GetUtcNow());
        store.Exposures.Add(exposure);
        audit(new AuditEvent
        {
            Time = time.GetUtcNow(), Event = AuditEvent.KindAdmin, Outcome = "expose", Admin = actor, Source = source, User = exposure.User,
            Host = host, Service = service, Reason = $"exposed {host}:{service} on port {exposure.Port} as {exposure.User} to {string.Join(", ", allow)}",
        });
        return View(exposure, null);
    }

    public void Unexpose(string name)
    {
        var exposure = store.Exposures.List().FirstOrDefault(e => e.Name == name);
        if (exposure is null || !store.Exposures.Remove(name))
        {
            throw new InvalidOperationException($"nothing is exposed as {name} (`jumpgate gateway exposed` lists them)");
        }
        audit(new AuditEvent
        {
            Time = time.GetUtcNow(), Event = AuditEvent.KindAdmin, Outcome = "unexpose", Admin = actor, Source = source, User = exposure.User,
            Host = exposure.Host, Service = exposure.Service, Reason = $"closed port {exposure.Port} ({exposure.User})",
        });
    }

    /// <summary>Every host's SSH host keys: those the gateway vouches for, and any changed ones waiting to be accepted.</summary>
    public IReadOnlyList<HostKeyView> HostKeys() => [.. store.HostKeys.List().Select(View)];

    /// <summary>
    /// Makes the keys an agent read since the record (a changed host key, which the gateway kept
    /// aside) the ones it vouches for; the audit names both sets by fingerprint.
    /// </summary>
    public HostKeyView AcceptHostKeys(string host)
    {
        if (!Names.IsValid(host))
        {
            throw new InvalidOperationException($"'{host}' is not a valid host name ({Names.Rule})");
        }
        var before = store.HostKeys.Find(host)
            ?? throw new InvalidOperationException($"the gateway has no host keys for {host} (`jumpgate gateway host-keys` lists them)");
        var accepted = store.HostKeys.AcceptPending(host, time.GetUtcNow())
            ?? throw new InvalidOperationException($"no changed host keys of {host} are waiting: the gateway vouches for the ones its agent reads");
        audit(new AuditEvent
        {
            Time = time.GetUtcNow(), Event = AuditEvent.KindAdmin, Outcome = "host_keys_accept", Admin = actor, Source = source, Host = host, Service = "ssh",
            Agent = accepted.Agent,
            Reason = $"accepted the host keys of {host} read by agent {accepted.Agent}: {HostKeyRecords.Describe(accepted.Keys)} (were {HostKeyRecords.Describe(before.Keys)})",
        });
        return View(accepted);
    }

    private static HostKeyView View(HostKeyRecord r) => new(r.Host, r.Keys, r.Agent, r.Recorded, r.Pending, r.PendingAgent, r.PendingSince);

    private static ExposureView View(Exposure e, string? state) =>
        new(e.Name, e.User, e.Host, e.Service, e.Port, [.. e.Allow.Select(a => a.ToString())], e.Created, state);

    /// <summary>The newest matching events, oldest first; <paramref name="since"/> is a duration such as 1h.</summary>
    public IReadOnlyList<AuditEvent> Audit(string? user, string? host, string? since, int limit, string? kind)
    {
        DateTimeOffset? from = null;
        if (since is not null)
        {
            if (!Durations.TryParse(since, out var span))
            {
                throw new InvalidOperationException($"--since '{since}' is not a duration such as 15m, 1h or 7d");
            }
            from = time.GetUtcNow() - span;
        }
        return store.Audit.Query(new AuditQuery(user, host, from, Math.Clamp(limit, 1, 100_000), kind));
    }

    private static TokenView View(TokenRow t) => new(t.Id, PrincipalKinds.Text(t.Kind), t.Principal, t.Created, t.Expires, t.Revoked);

    private AccessRule ParseRule(RuleRequest request, bool requireUser)
    {
        var subject = request.Subject ?? "";
        if (subject.StartsWith(Exposure.UserPrefix, StringComparison.Ordinal))
        {
            // An exposed port's name, which the rules see as a user of its own.
            if (!Names.IsValid(subject[Exposure.UserPrefix.Length..]))
            {
                throw new InvalidOperationException($"'{subject}' is not a valid exposure: use {Exposure.UserPrefix} and {Names.Rule}");
            }
        }
        else if (subject.StartsWith('@'))
        {
            if (!Names.IsValid(subject[1..]))
            {
                throw new InvalidOperationException($"'{subject}' is not a valid group: use @ and {Names.Rule}");
            }
        }
        else if (!Names.IsValid(subject))
        {
            throw new InvalidOperationException($"'{subject}' is not a valid user name: use {Names.Rule}, or @group");
        }
        else if (requireUser && !store.Principals.Exists(PrincipalKind.User, subject))
        {
            throw new InvalidOperationException($"there is no user {subject} (add one with `jumpgate gateway add-user {subject}`, or give a group as @name)");
        }
        var services = request.Services ?? [];
        if (services.FirstOrDefault(s => !Names.IsValid(s)) is { } bad)
        {
            throw new InvalidOperationException($"'{bad}' is not a valid service name: use {Names.Rule}");
        }
        return new AccessRule(subject, HostPatterns.Parse(request.Hosts ?? ""), [.. services.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]);
    }

    private static List<string> CheckGroups(IReadOnlyList<string> groups)
    {
        var names = groups.Select(g => g.TrimStart('@')).Distinct(StringComparer.Ordinal).ToList();
        if (names.FirstOrDefault(g => !Names.IsValid(g) || g == "everyone") is { } bad)
        {
            throw new InvalidOperationException(bad == "everyone" ? "every user is in @everyone already" : $"'{bad}' is not a valid group name: use {Names.Rule}");
        }
        return names;
    }

    private static string CheckName(string? name, string kind) => Names.IsValid(name)
        ? name!
        : throw new InvalidOperationException($"'{name}' is not a valid {kind} name: use {Names.Rule}");

    private void Record(string action, PrincipalKind kind, string name, string what) => audit(new AuditEvent
    {
        Time = time.GetUtcNow(), Event = AuditEvent.KindAdmin, Outcome = action, Admin = actor, Source = source,
        User = kind == PrincipalKind.User ? name : null, Agent = kind == PrincipalKind.Agent ? name : null, Reason = what,
    });

    private void Record(string action, AccessRule rule, string what) => audit(new AuditEvent
    {
        Time = time.GetUtcNow(), Event = AuditEvent.KindAdmin, Outcome = action, Admin = actor, Source = source,
        User = rule.Subject.StartsWith('@') ? null : rule.Subject, Reason = what,
    });
}
