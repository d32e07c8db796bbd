using Jumpgate.Core.Api;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Admin;

/// <summary>
/// Where an admin command acts: on the gateway's store file (<see cref="LocalAdmin"/>, `--dir`) or
/// through the gateway's admin API with an admin token (<see cref="RemoteAdmin"/>, `--remote`).
/// Both run the same checks and write the same audit event, so a command prints the same either way.
/// </summary>
internal interface IGatewayAdmin : IDisposable
{
    Task<IReadOnlyList<PrincipalView>> ListAsync(PrincipalKind kind, CancellationToken cancellationToken);

    Task<IssuedToken> AddAsync(PrincipalKind kind, AddPrincipalRequest request, CancellationToken cancellationToken);

    Task SetDisabledAsync(PrincipalKind kind, string name, bool disabled, CancellationToken cancellationToken);

    Task<ChangeResult> ChangeGroupsAsync(string user, IReadOnlyList<string> groups, bool add, CancellationToken cancellationToken);

    Task<IReadOnlyList<TokenView>> TokensAsync(CancellationToken cancellationToken);

    Task<IssuedToken> AddTokenAsync(AddTokenRequest request, CancellationToken cancellationToken);

    Task<TokenView> RevokeTokenAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<RuleView>> RulesAsync(CancellationToken cancellationToken);

    Task<ChangeResult> GrantAsync(RuleRequest rule, CancellationToken cancellationToken);

    Task RevokeAsync(RuleRequest rule, CancellationToken cancellationToken);

    /// <summary>Agents and live streams, as `jumpgate status` shows them to an admin.</summary>
    Task<GatewayStatus> StatusAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<AuditEvent>> AuditAsync(string? user, string? host, string? since, int limit, string? kind, CancellationToken cancellationToken);

    /// <summary>The exposed ports; from a running gateway each says whether that gateway listens on it.</summary>
    Task<IReadOnlyList<ExposureView>> ExposedAsync(CancellationToken cancellationToken);

    Task<ExposureView> ExposeAsync(ExposeRequest request, CancellationToken cancellationToken);

    Task UnexposeAsync(string name, CancellationToken cancellationToken);

    /// <summary>Every host's SSH host keys, and changed ones waiting to be accepted.</summary>
    Task<IReadOnlyList<HostKeyView>> HostKeysAsync(CancellationToken cancellationToken);

    Task<HostKeyView> AcceptHostKeysAsync(string host, CancellationToken cancellationToken);
}
