using Jumpgate.Core.Api;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Dashboard;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Routing;
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
        app.MapGet(ApiPaths.WhoAmI, async (HttpContext http, Authenticator authenticator, GatewayOptions options, ITokenStore tokens) =>
            Authenticate(http, authenticator) is { } user
                ? Results.Json(new WhoAmI(user.Name, $"https://{http.Request.Host}", options.Domain, tokens.Find(user.TokenId)?.Expires), ApiJson.Default.WhoAmI)
                : await UnauthorizedAsync(http, authenticator));

        app.MapGet(ApiPaths.Hosts, async (HttpContext http, Authenticator authenticator, AccessCache access, IHostStore hosts, AgentRegistry registry) =>
        {
            if (Authenticate(http, authenticator) is not { } user)
            {
                return await UnauthorizedAsync(http, authenticator);
            }
            // Only what the user's rules allow: a host none of whose services they may reach is not listed at all.
            var policy = access.LoadPolicy(user.Name);
            var listing = hosts.List()
                .Where(h => policy.AllowsHost(h.Name))
                .GroupBy(h => h.Name)
                .Select(group =>
                {
                    var online = registry.Serving(group.Key);
                    var services = (online.Count > 0 ? online[0].Hosts[group.Key].Services : group.First().Services)
                        .Where(s => policy.Allows(group.Key, s.Name))
                        .ToList();
                    return new HostListing
                    {
                        Name = group.Key,
                        Online = online.Count > 0,
                        Agents = [.. group.Select(h => h.Agent).Distinct()],
                        LastSeen = online.Count > 0 ? null : group.Max(h => h.LastSeen),
                        Services = [.. services.Select(s => new ServiceListing(s.Name, s.Http))],
                        Replicas =
                        [
                            .. online.OrderBy(session => session.Agent, StringComparer.Ordinal)
                                .SelectMany(session => services.Select(s => session.ReplicaOf(group.Key, s.Name)).OfType<Replica>())
                                .Select(r => new ReplicaListing(r.Agent, r.Service, r.Health.Healthy, r.Health.LastFailure, r.OpenStreams)),
                        ],
                    };
                })
                .Where(h => h.Services.Count > 0)
                .ToList();
            return Results.Json<IReadOnlyList<HostListing>>(listing, ApiJson.Default.IReadOnlyListHostListing);
        });

        app.MapGet(ApiPaths.Open, OpenAsync);

        app.MapGet(ApiPaths.HostKeys, HostKeysAsync);

        app.MapGet(ApiPaths.Dashboard, async (HttpContext http, Authenticator authenticator, DashboardEndpoints dashboard) =>
            Authenticate(http, authenticator) is { } user
                ? DashboardLink(http, user, dashboard)
                : await UnauthorizedAsync(http, authenticator));
    }

    /// <summary>
    /// `jumpgate open HOST SERVICE`: the service's address and a one-time link that signs a
    /// browser in on it. Refused like a stream would be: rules first, so a refused user learns
    /// nothing about which hosts exist.
    /// </summary>
    private static async Task<IResult> OpenAsync(HttpContext http, string host, string service, Authenticator authenticator, AccessCache access, IHostStore hosts, ServiceRouter router, SignInEndpoints signIn)
    {
        if (Authenticate(http, authenticator) is not { } user)
        {
            return await UnauthorizedAsync(http, authenticator);
        }
        var policy = access.LoadPolicy(user.Name);
        if (!Core.Naming.Names.IsValid(host) || !Core.Naming.Names.IsValid(service) || !policy.Allows(host, service))
        {
            return Error(StatusCodes.Status403Forbidden, policy.Refusal(host, service));
        }
        var known = hosts.List(host);
        if (known.Count == 0)
        {
            return Error(StatusCodes.Status404NotFound, Refusals.UnknownHost(host));
        }
        var services = known.SelectMany(k => k.Services).ToList();
        if (services.FirstOrDefault(s => s.Name == service) is not { } announced)
        {
            return Error(StatusCodes.Status404NotFound, Refusals.NoSuchService(host, service, services.Select(s => s.Name).Where(name => policy.Allows(host, name)).Distinct()));
        }
        if (!announced.Http)
        {
            return Error(StatusCodes.Status400BadRequest, $"{host}:{service} is not an HTTP service; use `jumpgate forward {host}:{service}`");
        }
        var label = announced.Subdomain ?? ServiceRouter.LabelOf(service, host);
        return Results.Json(new OpenLink(router.UrlOf(label, http.Request.Host.Value), signIn.MintLink(user, label, http.Request.Host.Value),
            (int)SignInEndpoints.LinkCodeLifetime.TotalSeconds), ApiJson.Default.OpenLink);
    }

    /// <summary>
    /// `jumpgate known-hosts HOST`: the SSH host keys the gateway vouches for, to a user the rules
    /// let reach the host's ssh service (rules first, as for a stream). Only recorded keys are
    /// served: keys an agent read that differ from them wait for an admin and are never served.
    /// </summary>
    private static async Task<IResult> HostKeysAsync(HttpContext http, string host, Authenticator authenticator, AccessCache access, IHostStore hosts, IHostKeyStore keys)
    {
        if (Authenticate(http, authenticator) is not { } user)
        {
            return await UnauthorizedAsync(http, authenticator);
        }
        var policy = access.LoadPolicy(user.Name);
        if (!Core.Naming.Names.IsValid(host) || !policy.Allows(host, "ssh"))
        {
            return Error(StatusCodes.Status403Forbidden, policy.Refusal(host, "ssh"));
        }
        if (keys.Find(host) is { } record)
        {
            return Results.Json(new HostKeysAnswer(host, record.Keys), ApiJson.Default.HostKeysAnswer);
        }
        var note = hosts.List(host).Count == 0 ? null
            : $"the gateway holds no SSH host keys for {host} yet: its agent reads them when it connects (its log says why it could not)";
        return Results.Json(new HostKeysAnswer(host, [], note), ApiJson.Default.HostKeysAnswer);
    }

    /// <summary>The dashboard's address and a one-time link that signs a browser in on it as <paramref name="principal"/> (a user, or an admin through the admin API).</summary>
    internal static IResult DashboardLink(HttpContext http, Principal principal, DashboardEndpoints dashboard)
    {
        var link = dashboard.MintLink(principal, http.Request.Host.Value);
        return Results.Json(new OpenLink(dashboard.Url(http.Request.Host.Value), link, (int)SignInEndpoints.LinkCodeLifetime.TotalSeconds), ApiJson.Default.OpenLink);
    }

    /// <summary>A refusal in words, as every API answers one: <c>{"error": "..."}</c>.</summary>
    internal static IResult Error(int status, string message) =>
        Results.Json(new Dictionary<string, string> { ["error"] = message }, ApiJson.Default.DictionaryStringString, statusCode: status);

    internal static Principal? Authenticate(HttpContext http, Authenticator authenticator, PrincipalKind kind = PrincipalKind.User)
    {
        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
        return authenticator.Authenticate(token, kind, PeerAddress.Of(http));
    }

    /// <summary>401 with the same words for every credential failure; 429 (after the limiter's delay) for a rate-limited address.</summary>
    internal static async Task<IResult> UnauthorizedAsync(HttpContext http, Authenticator authenticator)
    {
        var limited = authenticator.IsLimited(PeerAddress.Of(http));
        var message = await authenticator.RefusalAsync(PeerAddress.Of(http), http.RequestAborted);
        return Error(limited ? StatusCodes.Status429TooManyRequests : StatusCodes.Status401Unauthorized, message);
    }
}
