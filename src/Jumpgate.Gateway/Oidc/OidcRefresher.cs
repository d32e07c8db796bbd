using System.Collections.Concurrent;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Oidc;

/// <summary>
/// Keeps the provider's word on every live browser sign-in made through it: each
/// <c>oidc.refresh_interval</c> the sign-in's refresh token is used. A refusal (the user was
/// disabled or signed out at the provider, the grant revoked) ends the sign-in; a new ID token's
/// groups replace the user's groups, so a user taken out of a group loses its rules. A provider
/// that cannot be reached ends nothing: that is not the provider saying so.
/// </summary>
/// <remarks>
/// What it watches is kept in the store (<see cref="IOidcRefreshStore"/>, the refresh token sealed by
/// <see cref="OidcRefreshSeal"/>), so a restarted gateway goes on asking. Gateways sharing a store
/// each watch every kept sign-in; a refusal is first checked against the store, where another
/// gateway may have kept the rotated refresh token that replaced this one's.
/// </remarks>
internal sealed class OidcRefresher(OidcProvider provider, OidcAccounts accounts, ITokenStore tokens, IOidcRefreshStore kept, TimeProvider time, ILogger<OidcRefresher> logger) : BackgroundService
{
    private sealed record Tracked(OidcIdentity Identity, string RefreshToken);

    private readonly ConcurrentDictionary<string, Tracked> _live = new(StringComparer.Ordinal);
    private readonly OidcRefreshSeal _seal = new(provider.ClientSecret);

    /// <summary>Sign-ins being refreshed now (for tests).</summary>
    internal int Count => _live.Count;

    /// <summary>Starts watching a sign-in's token; a provider that issued no refresh token cannot end it early, and is not watched.</summary>
    public void Track(string tokenId, OidcIdentity identity, string? refreshToken)
    {
        if (!string.IsNullOrEmpty(refreshToken))
        {
            Keep(tokenId, new Tracked(identity, refreshToken));
        }
    }

    private void Keep(string tokenId, Tracked tracked)
    {
        _live[tokenId] = tracked;
        kept.Put(new OidcRefreshRecord(tokenId, tracked.Identity.User, tracked.Identity.Subject, tracked.Identity.Groups, _seal.Seal(tokenId, tracked.RefreshToken)));
    }

    private void Forget(string tokenId)
    {
        _live.TryRemove(tokenId, out _);
        kept.Remove(tokenId);
    }

    /// <summary>The kept sign-ins, as the store has them now; one sealed under another client secret cannot be asked about and is dropped.</summary>
    private Dictionary<string, Tracked> ReadKept()
    {
        var found = new Dictionary<string, Tracked>(StringComparer.Ordinal);
        foreach (var record in kept.List())
        {
            if (_seal.Open(record.TokenId, record.SealedRefreshToken) is { } refresh)
            {
                found[record.TokenId] = new Tracked(new OidcIdentity(record.User, record.Groups, record.Subject), refresh);
            }
            else
            {
                kept.Remove(record.TokenId);
            }
        }
        return found;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var (tokenId, tracked) in ReadKept())
        {
            _live.TryAdd(tokenId, tracked);
        }
        using var timer = new PeriodicTimer(provider.Options.RefreshInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RefreshAllAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The gateway is stopping.
        }
    }

    /// <summary>One round over every live sign-in.</summary>
    internal async Task RefreshAllAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var (tokenId, tracked) in _live)
        {
            if (tokens.Find(tokenId) is not { } token || !token.IsValidAt(now))
            {
                // Expired, revoked or signed out some other way: nothing left to keep.
                Forget(tokenId);
                continue;
            }
            await RefreshAsync(tokenId, tracked, cancellationToken);
        }
    }

    private async Task RefreshAsync(string tokenId, Tracked tracked, CancellationToken cancellationToken)
    {
        TokenAnswer answer;
        try
        {
            answer = await provider.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = tracked.RefreshToken }, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            OidcLog.RefreshUnreachable(logger, provider.Options.Issuer, tracked.Identity.User, e.Message);
            return;
        }
        using (answer)
        {
            if (answer.Json is null)
            {
                if (ReadKept().GetValueOrDefault(tokenId) is { } newer && newer.RefreshToken != tracked.RefreshToken)
                {
                    // Another gateway of the store refreshed it first and the provider rotated the token: go on with the new one.
                    _live[tokenId] = newer;
                    return;
                }
                End(tokenId, tracked, $"the identity provider refused to refresh the sign-in: {answer.Message}");
                return;
            }
            var identity = tracked.Identity;
            if (answer.Get("id_token") is { } idToken)
            {
                var (claims, error) = await provider.ValidateIdTokenAsync(idToken, expectedNonce: null, cancellationToken);
                var (fresh, refusal) = claims is null ? (null, error) : OidcIdentity.From(claims.Claims, provider.Options);
                if (fresh is null || fresh.User != identity.User || fresh.Subject != identity.Subject)
                {
                    End(tokenId, tracked, $"the refreshed identity is not accepted: {refusal ?? "it names another user"}");
                    return;
                }
                if (!fresh.Groups.SequenceEqual(identity.Groups, StringComparer.Ordinal))
                {
                    accounts.SyncGroups(fresh);
                }
                identity = fresh;
            }
            // Providers that rotate refresh tokens send a new one each time; the old one is then spent.
            var next = new Tracked(identity, answer.Get("refresh_token") ?? tracked.RefreshToken);
            if (next != tracked)
            {
                Keep(tokenId, next);
            }
        }
    }

    private void End(string tokenId, Tracked tracked, string reason)
    {
        Forget(tokenId);
        accounts.End(tokenId, tracked.Identity, reason);
        OidcLog.SignInEnded(logger, tracked.Identity.User, reason);
    }
}
