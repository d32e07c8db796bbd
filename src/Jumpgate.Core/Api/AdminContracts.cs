using System.Text.Json.Serialization;
using Jumpgate.Core.Audit;

namespace Jumpgate.Core.Api;

/// <summary>A user, agent or admin as the admin API and `gateway users|agents|admins --json` show it.</summary>
internal sealed record PrincipalView(string Name, string Kind, string? Hosts, bool Disabled, DateTimeOffset Created, IReadOnlyList<string> Groups);

/// <summary>A token as the admin API lists it: never its secret, which the store does not have.</summary>
internal sealed record TokenView(string Id, string Kind, string Principal, DateTimeOffset Created, DateTimeOffset? Expires, bool Revoked);

/// <summary>A rule; an empty services list means every service.</summary>
internal sealed record RuleView(string Subject, string Hosts, IReadOnlyList<string> Services);

/// <summary>A new token, shown once: the answer to adding a principal or a token.</summary>
internal sealed record IssuedToken(string Token);

/// <summary>Adds a user (with groups), an agent (with host patterns) or an admin.</summary>
internal sealed record AddPrincipalRequest(string Name, string? Hosts = null, IReadOnlyList<string>? Groups = null);

/// <summary>Issues one more token; <see cref="Expires"/> is a duration such as 30d, forever when null.</summary>
internal sealed record AddTokenRequest(string Kind, string Name, string? Expires = null);

/// <summary>What grant and revoke take: the same arguments as the commands.</summary>
internal sealed record RuleRequest(string Subject, string Hosts, IReadOnlyList<string>? Services = null);

internal sealed record GroupsRequest(IReadOnlyList<string> Groups);

/// <summary>Whether a change changed anything, and if not, why in words ("already granted").</summary>
internal sealed record ChangeResult(bool Changed, string? Message = null);

internal sealed record AdminWhoAmI(string Admin, string Gateway);

/// <summary>
/// What `jumpgate status` shows an admin: the agents and, from a running gateway, its live streams.
/// <see cref="Streams"/> is null where nobody could know them (`--dir` reads the store, not the running gateway).
/// </summary>
internal sealed record GatewayStatus(IReadOnlyList<AgentStatus> Agents, IReadOnlyList<StreamStatus>? Streams, CertificateStatus? Certificate = null);

/// <summary>
/// The gateway's certificate when an ACME CA issues it: its names and end, when it renews next, and the
/// last renewal's failure (null once one succeeds). Null for a certificate from files, which nothing renews.
/// </summary>
internal sealed record CertificateStatus(IReadOnlyList<string> Names, DateTimeOffset NotAfter, DateTimeOffset? NextRenewal, string? RenewalFailure, DateTimeOffset? FailedAt);

/// <summary>An agent: connected now (with its address, since when, its trunks and hosts) or last seen when.</summary>
internal sealed record AgentStatus(string Name, bool Online, string? Address, DateTimeOffset? Since, DateTimeOffset? LastSeen, int Trunks, IReadOnlyList<string> Hosts, int OpenStreams);

/// <summary>A stream carrying bytes now.</summary>
internal sealed record StreamStatus(string User, string Host, string Service, string? Agent, DateTimeOffset? Since, long BytesToService, long BytesToUser);

/// <summary>Exposes <see cref="Target"/> (HOST:SERVICE) on a public TCP port to the sources in <see cref="Allow"/> (CIDRs); <see cref="Name"/> defaults to HOST-SERVICE.</summary>
internal sealed record ExposeRequest(string Target, int Port, IReadOnlyList<string> Allow, string? Name = null);

/// <summary>
/// An exposed port as `gateway exposed` lists it. <see cref="State"/> is what the gateway that
/// answered does with it (listening, or why it cannot); null from the store alone (`--dir`).
/// </summary>
internal sealed record ExposureView(string Name, string User, string Host, string Service, int Port, IReadOnlyList<string> Allow, DateTimeOffset Created, string? State);

/// <summary>
/// A host's SSH host keys as `gateway host-keys` lists them: the ones vouched for, and different
/// ones an agent read since, waiting for `gateway host-keys accept HOST`. Keys are <c>TYPE BASE64</c>.
/// </summary>
internal sealed record HostKeyView(string Host, IReadOnlyList<string> Keys, string Agent, DateTimeOffset Recorded,
    IReadOnlyList<string>? Pending, string? PendingAgent, DateTimeOffset? PendingSince);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<PrincipalView>))]
[JsonSerializable(typeof(List<TokenView>))]
[JsonSerializable(typeof(TokenView))]
[JsonSerializable(typeof(List<RuleView>))]
[JsonSerializable(typeof(IssuedToken))]
[JsonSerializable(typeof(AddPrincipalRequest))]
[JsonSerializable(typeof(AddTokenRequest))]
[JsonSerializable(typeof(RuleRequest))]
[JsonSerializable(typeof(GroupsRequest))]
[JsonSerializable(typeof(ChangeResult))]
[JsonSerializable(typeof(AdminWhoAmI))]
[JsonSerializable(typeof(GatewayStatus))]
[JsonSerializable(typeof(CertificateStatus))]
[JsonSerializable(typeof(List<AuditEvent>))]
[JsonSerializable(typeof(ExposeRequest))]
[JsonSerializable(typeof(ExposureView))]
[JsonSerializable(typeof(List<ExposureView>))]
[JsonSerializable(typeof(HostKeyView))]
[JsonSerializable(typeof(List<HostKeyView>))]
internal sealed partial class AdminJson : JsonSerializerContext;
