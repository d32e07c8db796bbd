using Jumpgate.Core.Naming;

namespace Jumpgate.Gateway.Access;

/// <summary>
/// One grant: a subject (a user's name, <c>@group</c>, or <c>@everyone</c>) may reach the hosts
/// that match <see cref="Hosts"/> and, of those, the services named (any service when the list is empty).
/// </summary>
internal sealed record AccessRule(string Subject, HostPatterns Hosts, IReadOnlyList<string> Services)
{
    /// <summary>The group every user is in; <c>gateway init</c> grants it every host.</summary>
    public const string Everyone = "@everyone";

    public bool AllowsHost(string host) => Hosts.Allows(host);

    public bool Allows(string host, string service) => Hosts.Allows(host) && (Services.Count == 0 || Services.Contains(service, StringComparer.Ordinal));

    public string DescribeServices() => Services.Count == 0 ? "all services" : string.Join(", ", Services);

    public bool Equals(AccessRule? other) =>
        other is not null && Subject == other.Subject && Hosts.Equals(other.Hosts) && Services.SequenceEqual(other.Services);

    public override int GetHashCode() => HashCode.Combine(Subject, Hosts);
}
