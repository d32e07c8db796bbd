using System.Collections.Concurrent;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Auth;

/// <summary>
/// Re-checks every live stream and agent session every <see cref="Interval"/>
/// (<c>access.recheck_interval</c> in gateway.yaml, 2 s by default):
/// a disabled principal, a revoked or expired token, a rule that no longer allows the stream,
/// or a revoked agent closes it. Admin commands write the store from another process (or another
/// gateway), so a pass is how a change reaches live connections; its questions go through
/// <see cref="AccessCache"/>, so a pass when nothing changed reads only the store's generation, and
/// with a 2 s interval a revocation closes a stream within about 2 s.
/// </summary>
internal sealed class AccessMonitor(AccessCache access, StoreHealth store, TimeProvider time, ILogger<AccessMonitor> logger, AccessOptions options) : IHostedService
{
    public TimeSpan Interval { get; } = options.RecheckInterval;

    private readonly ConcurrentDictionary<LiveGrant, byte> _live = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public int Count => _live.Count;

    public LiveGrant TrackStream(string user, string tokenId, string host, string service, string agent) =>
        Track(LiveGrant.ForStream(user, tokenId, host, service, agent, Untrack));

    public LiveGrant TrackAgent(string agent, string tokenId) => Track(LiveGrant.ForAgent(agent, tokenId, Untrack));

    /// <summary>A user's trunk, closed once its token is revoked (its streams are tracked on their own).</summary>
    public LiveGrant TrackTrunk(string user, string tokenId) => Track(LiveGrant.ForTrunk(user, tokenId, Untrack));

    /// <summary>One pass over every live grant; each token and each user's rules are read once per pass.</summary>
    public void Sweep()
    {
        var now = time.GetUtcNow();
        var tokens = new Dictionary<string, bool>(StringComparer.Ordinal);
        var policies = new Dictionary<string, AccessPolicy>(StringComparer.Ordinal);
        bool Valid(string id) => tokens.TryGetValue(id, out var valid) ? valid : tokens[id] = access.IsTokenValid(id, now);

        var revokedAgents = new HashSet<string>(StringComparer.Ordinal);
        var grants = _live.Keys.ToList();
        foreach (var agent in grants.Where(g => g.IsAgent && g.Reason is null))
        {
            if (!Valid(agent.TokenId))
            {
                revokedAgents.Add(agent.Agent);
                Revoke(agent, $"agent {agent.Agent} was disabled or its token was revoked or expired");
            }
        }
        foreach (var stream in grants.Where(g => g.IsStream && g.Reason is null))
        {
            var user = stream.User!;
            // An exposed port's stream has no token (its TokenId is empty): the rules alone allow it.
            if (stream.TokenId.Length > 0 && !Valid(stream.TokenId))
            {
                Revoke(stream, $"user {user} was disabled or the token was revoked or expired");
                continue;
            }
            if (!policies.TryGetValue(user, out var policy))
            {
                policy = policies[user] = access.LoadPolicy(user);
            }
            if (!policy.Allows(stream.Host!, stream.Service!))
            {
                Revoke(stream, $"the rules changed: {policy.Refusal(stream.Host!, stream.Service!)}");
            }
            else if (revokedAgents.Contains(stream.Agent))
            {
                Revoke(stream, $"agent {stream.Agent} was disabled or its token was revoked or expired");
            }
        }
        // After their streams: closing a trunk resets its streams, and a stream reset before its own
        // grant was revoked would be audited as closed by the user rather than revoked.
        foreach (var trunk in grants.Where(g => g.IsTrunk && g.Reason is null))
        {
            if (!Valid(trunk.TokenId))
            {
                Revoke(trunk, $"user {trunk.User} was disabled or the token was revoked or expired");
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _loop;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (_live.IsEmpty)
                {
                    continue;
                }
                try
                {
                    Sweep();
                }
                catch (Exception e) when (StoreHealth.IsOutage(e))
                {
                    // A lost, busy or damaged store: keep what is open and try again on the next tick. Its
                    // health logs it once a minute; a line per tick would be one every re-check interval.
                    store.Lost(e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The gateway is stopping.
        }
    }

    private void Revoke(LiveGrant grant, string reason)
    {
        var what = grant.IsStream ? $"stream {grant.User} -> {grant.Host}:{grant.Service}" : grant.IsTrunk ? $"trunk of user {grant.User}" : $"agent {grant.Agent}";
        GatewayLog.AccessRevoked(logger, what, reason);
        grant.Revoke(reason);
    }

    private LiveGrant Track(LiveGrant grant)
    {
        _live[grant] = 0;
        return grant;
    }

    private void Untrack(LiveGrant grant) => _live.TryRemove(grant, out _);
}
