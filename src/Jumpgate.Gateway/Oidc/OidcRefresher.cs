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
/// <remarks>Refresh tokens are held in this process's memory only: a restarted gateway lets its browsers' OIDC sessions run to their expiry unchecked.</remarks>
internal sealed class OidcRefresher(OidcProvider provider, OidcAccounts accounts, ITokenStore tokens, TimeProvider time, ILogger<OidcRefresher> logger) : BackgroundService
{
    private sealed record Tracked(OidcIdentity Identity, string RefreshToken);

    private readonly ConcurrentDictionary<string, Tracked> _live = new(StringComparer.Ordinal);

    /// <summary>Sign-ins being refreshed now (for tests).</summary>
    internal int Count => _live.Count;

    /// <summary>Starts watching a sign-in's token; a provider that issued no refresh token cannot end it early, and is not watched.</summary>
    public void Track(string tokenId, OidcIdentity identity, string? refreshToken)
    {
        if (!string.IsNullOrEmpty(refreshToken))
        {
            _live[tokenId] = new Tracked(identity, refreshToken);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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
                _live.TryRemove(tokenId, out _);
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
            _live[tokenId] = new Tracked(identity, answer.Get("refresh_token") ?? tracked.RefreshToken);
        }
    }

    private void End(string tokenId, Tracked tracked, string reason)
    {
        _live.TryRemove(tokenId, out _);
        accounts.End(tokenId, tracked.Identity, reason);
        OidcLog.SignInEnded(logger, tracked.Identity.User, reason);
    }
}
