using Jumpgate.Core.Security;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Jumpgate.Gateway.Api;

/// <summary>The JSON API the CLI uses: who am I, and which hosts can I reach.</summary>
internal static class ApiEndpoints
{
    public static void MapJumpgateApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/whoami", (HttpContext http, GatewayStore store, GatewayOptions options, TimeProvider time) =>
            Authenticate(http, store, time) is { } user
                ? Results.Json(new WhoAmI(user.Name, $"https://{http.Request.Host}", options.Domain), ApiJson.Default.WhoAmI)
                : Unauthorized());

        app.MapGet("/api/v1/hosts", (HttpContext http, GatewayStore store, AgentRegistry registry, TimeProvider time) =>
        {
            if (Authenticate(http, store, time) is null)
            {
                return Unauthorized();
            }
            var listing = store.ListHosts()
                .GroupBy(h => h.Name)
                .Select(group =>
                {
                    var online = registry.Serving(group.Key);
                    var services = online.Count > 0 ? online[0].Hosts[group.Key].Services : group.First().Services;
                    return new HostListing
                    {
                        Name = group.Key,
                        Online = online.Count > 0,
                        Agents = [.. group.Select(h => h.Agent).Distinct()],
                        LastSeen = online.Count > 0 ? null : group.Max(h => h.LastSeen),
                        Services = [.. services.Select(s => new ServiceListing(s.Name, s.Http))],
                    };
                })
                .ToList();
            return Results.Json<IReadOnlyList<HostListing>>(listing, ApiJson.Default.IReadOnlyListHostListing);
        });
    }

    private static Principal? Authenticate(HttpContext http, GatewayStore store, TimeProvider time)
    {
        var header = http.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? store.Authenticate(header["Bearer ".Length..].Trim(), PrincipalKind.User, time.GetUtcNow())
            : null;
    }

    private static IResult Unauthorized() => Results.Text(
        "{\"error\":\"invalid or revoked token\"}", "application/json", statusCode: StatusCodes.Status401Unauthorized);
}
