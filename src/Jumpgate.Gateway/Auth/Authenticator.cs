using System.Net;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Hosting;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Auth;

/// <summary>
/// Every authentication goes through here: the rate limiter first (a limited address is refused
/// before the store is read), then the store; failures are counted and audited. Callers refuse
/// through <see cref="Refusal"/>, which says the same words for every credential failure and
/// makes a limited address wait.
/// </summary>
internal sealed class Authenticator(GatewayStore store, AuthRateLimiter limiter, AuditLog audit, TimeProvider time, ILogger<Authenticator> logger)
{
    /// <summary>The same words for every credential failure, so a guesser learns nothing.</summary>
    public const string InvalidToken = Tunnel.TunnelHandler.InvalidToken;

    /// <summary>How long a limited address waits for its refusal: a sequential guessing loop gets one answer a second.</summary>
    public static readonly TimeSpan ThrottleDelay = TimeSpan.FromSeconds(1);

    public Principal? Authenticate(string? token, PrincipalKind kind, string? remote)
    {
        var address = AddressOf(remote);
        if (!limiter.TryBegin(address, out _))
        {
            return null;
        }
        var principal = store.Authenticate(token, kind, time.GetUtcNow(), out var stale);
        if (principal is not null)
        {
            limiter.Succeeded(address);
        }
        else if (stale is not null)
        {
            // The right secret of a revoked or expired token, or of a disabled principal: not a
            // guess, so it costs the address nothing. A disabled agent that keeps retrying must
            // not lock out the users behind the same NAT.
            limiter.Succeeded(address);
            audit.Write(new AuditEvent
            {
                Time = time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "failed", Source = remote,
                User = kind == PrincipalKind.User ? stale : null, Agent = kind == PrincipalKind.Agent ? stale : null, Admin = kind == PrincipalKind.Admin ? stale : null,
                Reason = $"a revoked or expired token, or a disabled {GatewayStore.KindText(kind)}",
            });
        }
        else
        {
            var engaged = limiter.Failed(address);
            audit.Write(new AuditEvent { Time = time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "failed", Source = remote, Reason = $"invalid {GatewayStore.KindText(kind)} token" });
            if (engaged)
            {
                GatewayLog.AuthRateLimited(logger, address, limiter.Capacity, limiter.Window.TotalSeconds);
                audit.Write(new AuditEvent
                {
                    Time = time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "throttled", Source = address,
                    Reason = $"{limiter.Capacity} failed authentications within {limiter.Window.TotalSeconds:0.###} s; from now on this address gets one attempt every {limiter.Interval.TotalSeconds:0.###} s",
                });
            }
        }
        return principal;
    }

    /// <summary>
    /// What to tell a peer whose authentication failed, after the delay a limited address
    /// gets. Limited addresses learn that they are limited (a colleague behind the same NAT
    /// needs to know why), never anything about a token.
    /// </summary>
    public async Task<string> RefusalAsync(string? remote, CancellationToken cancellationToken)
    {
        var address = AddressOf(remote);
        if (!limiter.IsLimited(address, out var retryAfter))
        {
            return InvalidToken;
        }
        await Task.Delay(ThrottleDelay, time, cancellationToken);
        return $"too many failed authentications from {address}; try again in {Math.Ceiling(retryAfter.TotalSeconds):0} s";
    }

    public bool IsLimited(string? remote) => limiter.IsLimited(AddressOf(remote), out _);

    /// <summary>The address part of "1.2.3.4:5678" or "[::1]:5678"; the whole text when it is not an endpoint.</summary>
    public static string AddressOf(string? remote) =>
        remote is not null && IPEndPoint.TryParse(remote, out var endpoint) ? endpoint.Address.ToString() : remote ?? "unknown";
}
