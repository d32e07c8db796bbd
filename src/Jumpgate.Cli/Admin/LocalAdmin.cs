using Jumpgate.Core.Api;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Acme;
using Jumpgate.Gateway.Admin;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Cli.Admin;

/// <summary>
/// Admin commands on the gateway's own store (`--dir`): whoever can read and write the store file
/// is an admin already, so there is no token to check. The actor in the audit trail is
/// local:OSUSER. Its events go to the store's audit table only: audit.jsonl belongs to the running
/// gateway, whose buffered writer appends at its own offset and would overwrite a line another
/// process appended (measured: .NET's FileMode.Append writes at the position it tracks).
/// </summary>
internal sealed class LocalAdmin : IGatewayAdmin
{
    private readonly AdminActions _actions;
    private readonly GatewayStores _store;
    private readonly GatewayOptions _options;

    public LocalAdmin(string directory)
    {
        var options = _options = GatewayOptions.Load(directory);
        var store = _store = options.Store.Open(options.Access.RecheckInterval);
        _actions = new AdminActions(store, "local:" + Environment.UserName, source: null, audit => store.Audit.Append([audit]), TimeProvider.System);
    }

    public Task<IReadOnlyList<PrincipalView>> ListAsync(PrincipalKind kind, CancellationToken cancellationToken) => Task.FromResult(_actions.List(kind));

    public Task<IssuedToken> AddAsync(PrincipalKind kind, AddPrincipalRequest request, CancellationToken cancellationToken) => Task.FromResult(_actions.Add(kind, request));

    public Task SetDisabledAsync(PrincipalKind kind, string name, bool disabled, CancellationToken cancellationToken)
    {
        _actions.SetDisabled(kind, name, disabled);
        return Task.CompletedTask;
    }

    public Task<ChangeResult> ChangeGroupsAsync(string user, IReadOnlyList<string> groups, bool add, CancellationToken cancellationToken) =>
        Task.FromResult(_actions.ChangeGroups(user, groups, add));

    public Task<IReadOnlyList<TokenView>> TokensAsync(CancellationToken cancellationToken) => Task.FromResult(_actions.Tokens());

    public Task<IssuedToken> AddTokenAsync(AddTokenRequest request, CancellationToken cancellationToken) => Task.FromResult(_actions.AddToken(request));

    public Task<TokenView> RevokeTokenAsync(string id, CancellationToken cancellationToken) => Task.FromResult(_actions.RevokeToken(id));

    public Task<GatewayStatus> StatusAsync(CancellationToken cancellationToken) =>
        Task.FromResult(_actions.Status(registry: null, live: null) with { Certificate = _options.Acme is { } acme ? AcmeStatusFile.Read(acme) : null });

    public Task<IReadOnlyList<RuleView>> RulesAsync(CancellationToken cancellationToken) => Task.FromResult(_actions.Rules());

    public Task<ChangeResult> GrantAsync(RuleRequest rule, CancellationToken cancellationToken) => Task.FromResult(_actions.Grant(rule));

    public Task RevokeAsync(RuleRequest rule, CancellationToken cancellationToken)
    {
        _actions.Revoke(rule);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AuditEvent>> AuditAsync(string? user, string? host, string? since, int limit, string? kind, CancellationToken cancellationToken) =>
        Task.FromResult(_actions.Audit(user, host, since, limit, kind));

    public Task<IReadOnlyList<ExposureView>> ExposedAsync(CancellationToken cancellationToken) => Task.FromResult(_actions.Exposed(state: null));

    public Task<ExposureView> ExposeAsync(ExposeRequest request, CancellationToken cancellationToken) => Task.FromResult(_actions.Expose(request));

    public Task UnexposeAsync(string name, CancellationToken cancellationToken)
    {
        _actions.Unexpose(name);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<HostKeyView>> HostKeysAsync(CancellationToken cancellationToken) => Task.FromResult(_actions.HostKeys());

    public Task<HostKeyView> AcceptHostKeysAsync(string host, CancellationToken cancellationToken) => Task.FromResult(_actions.AcceptHostKeys(host));

    /// <summary>Lets go of what the store holds open (a PostgreSQL store's pool and listener).</summary>
    public void Dispose() => _store.Dispose();
}
