namespace Jumpgate.Gateway.Access;

/// <summary>
/// The rules that apply to one user (their own, their groups', and @everyone's), read from the
/// store when they authenticate. Deny by default: with no rule, nothing is reachable.
/// </summary>
internal sealed class AccessPolicy(string user, IReadOnlyList<AccessRule> rules)
{
    public string User { get; } = user;

    public IReadOnlyList<AccessRule> Rules { get; } = rules;

    /// <summary>Whether any service of the host is reachable; a host that fails this is refused before the gateway says whether it exists.</summary>
    public bool AllowsHost(string host) => Rules.Any(r => r.AllowsHost(host));

    public bool Allows(string host, string service) => Rules.Any(r => r.Allows(host, service));

    /// <summary>The refusal a person sees: it names the user, the host and the service, and nothing about other hosts.</summary>
    public string Refusal(string host, string service) => $"user {User} may not reach {host}:{service}";
}
