using System.Net.Http.Json;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Api;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Admin;

/// <summary>Admin commands through the gateway's admin API, with the admin token and pinned certificate `jumpgate admin login` saved.</summary>
internal sealed class RemoteAdmin(GatewayApi api) : IGatewayAdmin
{
    private const string Prefix = ApiPaths.Admin;

    /// <summary>The admin API of the admin login, the gateway that answered last asked first.</summary>
    public static RemoteAdmin FromSettings(AdminSettings settings)
    {
        var preference = GatewayPreference.Of(settings.Endpoints());
        return new(new GatewayApi(preference.Gateways, settings.Token, preference.Answered));
    }

    public async Task<AdminWhoAmI> WhoAmIAsync(CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Get, $"{Prefix}/whoami", null, AdminJson.Default.AdminWhoAmI, cancellationToken))!;

    public async Task<IReadOnlyList<PrincipalView>> ListAsync(PrincipalKind kind, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Get, $"{Prefix}/{ApiPaths.Principals(kind)}", null, AdminJson.Default.ListPrincipalView, cancellationToken))!;

    public async Task<IssuedToken> AddAsync(PrincipalKind kind, AddPrincipalRequest request, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Post, $"{Prefix}/{ApiPaths.Principals(kind)}", JsonContent.Create(request, AdminJson.Default.AddPrincipalRequest), AdminJson.Default.IssuedToken, cancellationToken))!;

    public Task SetDisabledAsync(PrincipalKind kind, string name, bool disabled, CancellationToken cancellationToken) =>
        api.SendAsync(HttpMethod.Post, $"{Prefix}/{ApiPaths.Principals(kind)}/{Uri.EscapeDataString(name)}/{(disabled ? "disable" : "enable")}", null, AdminJson.Default.ChangeResult, cancellationToken);

    public async Task<ChangeResult> ChangeGroupsAsync(string user, IReadOnlyList<string> groups, bool add, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Post, $"{Prefix}/users/{Uri.EscapeDataString(user)}/groups/{(add ? "add" : "remove")}",
            JsonContent.Create(new GroupsRequest(groups), AdminJson.Default.GroupsRequest), AdminJson.Default.ChangeResult, cancellationToken))!;

    public async Task<IReadOnlyList<TokenView>> TokensAsync(CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Get, $"{Prefix}/tokens", null, AdminJson.Default.ListTokenView, cancellationToken))!;

    public async Task<IssuedToken> AddTokenAsync(AddTokenRequest request, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Post, $"{Prefix}/tokens", JsonContent.Create(request, AdminJson.Default.AddTokenRequest), AdminJson.Default.IssuedToken, cancellationToken))!;

    public async Task<TokenView> RevokeTokenAsync(string id, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Post, $"{Prefix}/tokens/{Uri.EscapeDataString(id)}/revoke", null, AdminJson.Default.TokenView, cancellationToken))!;

    public async Task<GatewayStatus> StatusAsync(CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Get, $"{Prefix}/status", null, AdminJson.Default.GatewayStatus, cancellationToken))!;

    public async Task<IReadOnlyList<RuleView>> RulesAsync(CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Get, $"{Prefix}/rules", null, AdminJson.Default.ListRuleView, cancellationToken))!;

    public async Task<ChangeResult> GrantAsync(RuleRequest rule, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Post, $"{Prefix}/rules/grant", JsonContent.Create(rule, AdminJson.Default.RuleRequest), AdminJson.Default.ChangeResult, cancellationToken))!;

    public Task RevokeAsync(RuleRequest rule, CancellationToken cancellationToken) =>
        api.SendAsync(HttpMethod.Post, $"{Prefix}/rules/revoke", JsonContent.Create(rule, AdminJson.Default.RuleRequest), AdminJson.Default.ChangeResult, cancellationToken);

    public async Task<IReadOnlyList<ExposureView>> ExposedAsync(CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Get, $"{Prefix}/exposed", null, AdminJson.Default.ListExposureView, cancellationToken))!;

    public async Task<ExposureView> ExposeAsync(ExposeRequest request, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Post, $"{Prefix}/exposed", JsonContent.Create(request, AdminJson.Default.ExposeRequest), AdminJson.Default.ExposureView, cancellationToken))!;

    public Task UnexposeAsync(string name, CancellationToken cancellationToken) =>
        api.SendAsync(HttpMethod.Post, $"{Prefix}/exposed/{Uri.EscapeDataString(name)}/remove", null, AdminJson.Default.ChangeResult, cancellationToken);

    public async Task<IReadOnlyList<HostKeyView>> HostKeysAsync(CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Get, $"{Prefix}/host-keys", null, AdminJson.Default.ListHostKeyView, cancellationToken))!;

    public async Task<HostKeyView> AcceptHostKeysAsync(string host, CancellationToken cancellationToken) =>
        (await api.SendAsync(HttpMethod.Post, $"{Prefix}/host-keys/{Uri.EscapeDataString(host)}/accept", null, AdminJson.Default.HostKeyView, cancellationToken))!;

    public async Task<IReadOnlyList<AuditEvent>> AuditAsync(string? user, string? host, string? since, int limit, string? kind, CancellationToken cancellationToken)
    {
        var query = new List<string> { $"limit={limit}" };
        foreach (var (name, value) in new[] { ("user", user), ("host", host), ("since", since), ("event", kind) })
        {
            if (value is not null)
            {
                query.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }
        return (await api.SendAsync(HttpMethod.Get, $"{Prefix}/audit?{string.Join('&', query)}", null, AdminJson.Default.ListAuditEvent, cancellationToken))!;
    }

    /// <summary>A one-time link that signs a browser in on the dashboard as this admin (not part of <see cref="IGatewayAdmin"/>: only a running gateway mints one).</summary>
    public Task<OpenLink> DashboardAsync(CancellationToken cancellationToken) => api.DashboardAsync(cancellationToken, $"{Prefix}/dashboard");

    public void Dispose() => api.Dispose();
}
