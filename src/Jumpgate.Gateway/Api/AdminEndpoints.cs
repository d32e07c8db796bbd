using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Jumpgate.Core.Api;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Acme;
using Jumpgate.Gateway.Admin;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Dashboard;
using Jumpgate.Gateway.Expose;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Tunnel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Jumpgate.Gateway.Api;

/// <summary>
/// The admin API under <see cref="ApiPaths.Admin"/>: what `jumpgate gateway … --remote` and the dashboard
/// use. Every request, including one for a path that does not exist, must carry an admin token
/// (<c>jgx_…</c>); anything else (a user's or an agent's token, a revoked admin's, garbage, none)
/// gets the user API's answer: 401 with the same words, or 429 once its address is limited, and
/// counts against the address like any failed authentication. Changes are audited by
/// <see cref="AdminActions"/> with the admin's name and address.
/// </summary>
internal static class AdminEndpoints
{
    private static readonly PrincipalKind[] Kinds = [PrincipalKind.User, PrincipalKind.Agent, PrincipalKind.Admin];

    public static void MapJumpgateAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup(ApiPaths.Admin);
        admin.AddEndpointFilter(AuthorizeAsync);

        admin.MapGet("/whoami", (HttpContext http) =>
            Results.Json(new AdminWhoAmI(Caller(http).Name, $"https://{http.Request.Host}"), AdminJson.Default.AdminWhoAmI));

        foreach (var kind in Kinds)
        {
            var principals = ApiPaths.Principals(kind);
            admin.MapGet($"/{principals}", (HttpContext http) => Results.Json([.. Actions(http).List(kind)], AdminJson.Default.ListPrincipalView));
            admin.MapPost($"/{principals}", async (HttpContext http, CancellationToken cancellationToken) =>
                Results.Json(Actions(http).Add(kind, await BodyAsync(http, AdminJson.Default.AddPrincipalRequest, cancellationToken)), AdminJson.Default.IssuedToken));
            admin.MapPost($"/{principals}/{{name}}/disable", (HttpContext http, string name) => Done(() => Actions(http).SetDisabled(kind, name, disabled: true)));
            admin.MapPost($"/{principals}/{{name}}/enable", (HttpContext http, string name) => Done(() => Actions(http).SetDisabled(kind, name, disabled: false)));
        }
        admin.MapPost("/users/{name}/groups/add", async (HttpContext http, string name, CancellationToken cancellationToken) =>
            Results.Json(Actions(http).ChangeGroups(name, (await BodyAsync(http, AdminJson.Default.GroupsRequest, cancellationToken)).Groups ?? [], add: true), AdminJson.Default.ChangeResult));
        admin.MapPost("/users/{name}/groups/remove", async (HttpContext http, string name, CancellationToken cancellationToken) =>
            Results.Json(Actions(http).ChangeGroups(name, (await BodyAsync(http, AdminJson.Default.GroupsRequest, cancellationToken)).Groups ?? [], add: false), AdminJson.Default.ChangeResult));

        admin.MapGet("/status", (HttpContext http, AgentRegistry registry, LiveStreams live) =>
            Results.Json(Actions(http).Status(registry, live) with { Certificate = http.RequestServices.GetService<AcmeCertificates>()?.Describe() }, AdminJson.Default.GatewayStatus));

        admin.MapGet("/tokens", (HttpContext http) => Results.Json([.. Actions(http).Tokens()], AdminJson.Default.ListTokenView));
        admin.MapPost("/tokens", async (HttpContext http, CancellationToken cancellationToken) =>
            Results.Json(Actions(http).AddToken(await BodyAsync(http, AdminJson.Default.AddTokenRequest, cancellationToken)), AdminJson.Default.IssuedToken));
        admin.MapPost("/tokens/{id}/revoke", (HttpContext http, string id) => Results.Json(Actions(http).RevokeToken(id), AdminJson.Default.TokenView));

        admin.MapGet("/rules", (HttpContext http) => Results.Json([.. Actions(http).Rules()], AdminJson.Default.ListRuleView));
        admin.MapPost("/rules/grant", async (HttpContext http, CancellationToken cancellationToken) =>
            Results.Json(Actions(http).Grant(await BodyAsync(http, AdminJson.Default.RuleRequest, cancellationToken)), AdminJson.Default.ChangeResult));
        admin.MapPost("/rules/revoke", async (HttpContext http, CancellationToken cancellationToken) =>
        {
            var rule = await BodyAsync(http, AdminJson.Default.RuleRequest, cancellationToken);
            return Done(() => Actions(http).Revoke(rule));
        });

        admin.MapGet("/exposed", (HttpContext http, ExposedPorts ports) => Results.Json([.. Actions(http).Exposed(ports.State)], AdminJson.Default.ListExposureView));
        admin.MapPost("/exposed", async (HttpContext http, CancellationToken cancellationToken) =>
            Results.Json(Actions(http).Expose(await BodyAsync(http, AdminJson.Default.ExposeRequest, cancellationToken)), AdminJson.Default.ExposureView));
        admin.MapPost("/exposed/{name}/remove", (HttpContext http, string name) => Done(() => Actions(http).Unexpose(name)));

        admin.MapGet("/host-keys", (HttpContext http) => Results.Json([.. Actions(http).HostKeys()], AdminJson.Default.ListHostKeyView));
        admin.MapPost("/host-keys/{host}/accept", (HttpContext http, string host) => Results.Json(Actions(http).AcceptHostKeys(host), AdminJson.Default.HostKeyView));

        admin.MapGet("/dashboard", (HttpContext http, DashboardEndpoints dashboard) => ApiEndpoints.DashboardLink(http, Caller(http), dashboard));

        admin.MapGet("/audit", (HttpContext http, string? user, string? host, string? since, int? limit, string? @event) =>
            Results.Json([.. Actions(http).Audit(user, host, since, limit ?? 1000, @event)], AdminJson.Default.ListAuditEvent));

        // After authentication, so a caller without an admin token cannot even learn which paths exist.
        admin.Map("/{**rest}", () => ApiEndpoints.Error(StatusCodes.Status404NotFound, "no such admin endpoint"));
    }

    /// <summary>Authenticates the admin before any endpoint runs, and turns an admin's bad input into a 400 in words.</summary>
    private static async ValueTask<object?> AuthorizeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var authenticator = http.RequestServices.GetRequiredService<Authenticator>();
        if (ApiEndpoints.Authenticate(http, authenticator, PrincipalKind.Admin) is not { } principal)
        {
            return await ApiEndpoints.UnauthorizedAsync(http, authenticator);
        }
        http.Items[typeof(Principal)] = principal;
        try
        {
            return await next(context);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            // Only an authenticated admin gets here; the words are the store's and the checks', never a secret.
            return ApiEndpoints.Error(StatusCodes.Status400BadRequest, e is JsonException ? "the request body is not the JSON this endpoint takes" : e.Message);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's verdict while the JSON was read: over the gateway's body limit, or badly framed.
            return ApiEndpoints.Error(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"the request body is larger than the admin API's limit of {HttpServiceOptions.GatewayBodyBytes / 1024} KiB"
                : "the request body could not be read");
        }
    }

    private static Principal Caller(HttpContext http) => (Principal)http.Items[typeof(Principal)]!;

    private static AdminActions Actions(HttpContext http)
    {
        var services = http.RequestServices;
        var audit = services.GetRequiredService<AuditLog>();
        return new AdminActions(services.GetRequiredService<GatewayStores>(), Caller(http).Name, PeerAddress.Of(http), audit.Write, services.GetRequiredService<TimeProvider>());
    }

    /// <remarks>
    /// Every async handler takes a CancellationToken besides the HttpContext: a lambda of HttpContext
    /// alone returning a Task would bind as a RequestDelegate, and its result would be dropped.
    /// </remarks>
    private static async Task<T> BodyAsync<T>(HttpContext http, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        await http.Request.ReadFromJsonAsync(type, cancellationToken) ?? throw new InvalidOperationException("the request has no body");

    private static IResult Done(Action action)
    {
        action();
        return Results.NoContent();
    }

}
