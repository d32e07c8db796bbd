using System.Net;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Metrics;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Auth;

/// <summary>
/// Every authentication goes through here: the rate limiter first (a limited source is refused
/// before the store is read, and only counted: one summary event a minute per source), then the
/// store; failures are counted and audited. Callers refuse
/// through <see cref="Refusal"/>, which says the same words for every credential failure and
/// makes a limited address wait.
/// </summary>
internal sealed class Authenticator : IDisposable
{
    /// <summary>
    /// How often the attempts refused while limited are written, one summary event per source:
    /// a flood from one source costs the audit one line a minute, not one per attempt.
    /// </summary>
    public static readonly TimeSpan ThrottledSummaryInterval = TimeSpan.FromMinutes(1);

    private readonly AccessCache _access;
    private readonly StoreHealth _store;
    private readonly AuthRateLimiter _limiter;
    private readonly AuditLog _audit;
    private readonly TimeProvider _time;
    private readonly ILogger<Authenticator> _logger;
    private readonly ITimer _summaries;
    private readonly GatewayMetrics _metrics;

    public Authenticator(AccessCache access, StoreHealth store, AuthRateLimiter limiter, AuditLog audit, GatewayMetrics metrics, TimeProvider time, ILogger<Authenticator> logger)
    {
        _metrics = metrics;
        _access = access;
        _store = store;
        _limiter = limiter;
        _audit = audit;
        _time = time;
        _logger = logger;
        _summaries = _time.CreateTimer(_ => WriteThrottledSummaries(), null, ThrottledSummaryInterval, ThrottledSummaryInterval);
    }

    /// <summary>The same words for every credential failure, so a guesser learns nothing.</summary>
    public const string InvalidToken = "invalid or revoked token";

    /// <summary>How long a limited address waits for its refusal: a sequential guessing loop gets one answer a second.</summary>
    public static readonly TimeSpan ThrottleDelay = TimeSpan.FromSeconds(1);

    public Principal? Authenticate(string? token, PrincipalKind kind, string? remote) => Authenticate(token, kind, remote, out _);

    /// <summary>
    /// <paramref name="throttled"/>: the source was limited, so the attempt was refused untried
    /// and only counted (for a summary event), not audited: a caller that audits its own
    /// refusals should do the same.
    /// </summary>
    public Principal? Authenticate(string? token, PrincipalKind kind, string? remote, out bool throttled)
    {
        var address = AddressOf(remote);
        throttled = !_limiter.TryBegin(address, out _);
        if (throttled)
        {
            _metrics.AuthThrottled();
            return null;
        }
        Principal? principal;
        string? stale;
        try
        {
            principal = _access.Authenticate(token, kind, _time.GetUtcNow(), out stale);
        }
        catch (Exception e) when (StoreHealth.IsOutage(e))
        {
            // Not the peer's failure: its reservation goes back to the rate limit, it is counted for the operator's minute line, refused in
            // RefusalAsync's words. A store that cannot be read cannot be audited to either; audit.jsonl gets nothing per attempt.
            _limiter.Succeeded(address);
            _store.Lost(e);
            _store.Refused();
            return null;
        }
        if (principal is not null)
        {
            _limiter.Succeeded(address);
        }
        else if (stale is not null)
        {
            // The right secret of a revoked or expired token, or of a disabled principal: not a
            // guess, so it costs the address nothing. A disabled agent that keeps retrying must
            // not lock out the users behind the same NAT.
            _limiter.Succeeded(address);
            _metrics.AuthFailed(PrincipalKinds.Text(kind));
            _audit.Write(new AuditEvent
            {
                Time = _time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "failed", Source = remote,
                User = kind == PrincipalKind.User ? stale : null, Agent = kind == PrincipalKind.Agent ? stale : null, Admin = kind == PrincipalKind.Admin ? stale : null,
                Reason = $"a revoked or expired token, or a disabled {PrincipalKinds.Text(kind)}",
            });
        }
        else
        {
            var engaged = _limiter.Failed(address);
            _metrics.AuthFailed(PrincipalKinds.Text(kind));
            _audit.Write(new AuditEvent { Time = _time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "failed", Source = remote, Reason = $"invalid {PrincipalKinds.Text(kind)} token" });
            if (engaged)
            {
                var source = AuthRateLimiter.SourceOf(address);
                GatewayLog.AuthRateLimited(_logger, source, _limiter.Capacity, _limiter.Window.TotalSeconds);
                _audit.Write(new AuditEvent
                {
                    Time = _time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "throttled", Source = source,
                    Reason = $"{_limiter.Capacity} failed authentications within {_limiter.Window.TotalSeconds:0.###} s; from now on this address gets one attempt every {_limiter.Interval.TotalSeconds:0.###} s; attempts refused meanwhile are counted in one summary a minute",
                });
            }
        }
        return principal;
    }

    /// <summary>
    /// What to tell a peer whose authentication failed, after the delay a limited address
    /// gets. Limited addresses learn that they are limited (a colleague behind the same NAT
    /// needs to know why), never anything about a token; while the store is out of reach, that
    /// the gateway cannot check credentials (never the database's address or words).
    /// </summary>
    public async Task<string> RefusalAsync(string? remote, CancellationToken cancellationToken)
    {
        var address = AddressOf(remote);
        if (!_limiter.IsLimited(address, out var retryAfter))
        {
            // While the store is lost every credential it did not vouch for already is refused unchecked, a wrong one too.
            return _store.IsLost ? StoreHealth.Refusal : InvalidToken;
        }
        await Task.Delay(ThrottleDelay, _time, cancellationToken);
        return $"too many failed authentications from {AuthRateLimiter.SourceOf(address)}; try again in {Math.Ceiling(retryAfter.TotalSeconds):0} s";
    }

    public bool IsLimited(string? remote) => _limiter.IsLimited(AddressOf(remote), out _);

    /// <summary>One audit event per source refused while limited since the last summary: how many, and since when.</summary>
    private void WriteThrottledSummaries()
    {
        foreach (var tally in _limiter.TakeRefusals())
        {
            _audit.Write(new AuditEvent
            {
                Time = _time.GetUtcNow(), Event = AuditEvent.KindAuth, Outcome = "throttled_summary", Source = tally.Source,
                Reason = $"{tally.Refused} refused while limited since {tally.Since:yyyy-MM-ddTHH:mm:ssZ}",
            });
        }
    }

    /// <summary>Writes the last summary; the audit log outlives this (it was made first, so it is disposed after).</summary>
    public void Dispose()
    {
        _summaries.Dispose();
        WriteThrottledSummaries();
    }

    /// <summary>The address part of "1.2.3.4:5678" or "[::1]:5678"; the whole text when it is not an endpoint.</summary>
    public static string AddressOf(string? remote) =>
        remote is not null && IPEndPoint.TryParse(remote, out var endpoint) ? endpoint.Address.ToString() : remote ?? "unknown";
}
