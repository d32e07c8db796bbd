using System.Collections.Concurrent;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;

namespace Jumpgate.Gateway.Store;

/// <summary>
/// What every stream and HTTP request asks (who is this token, what may this user reach), answered
/// from memory while the store's generation is the one the answer was read at
/// (docs/decisions.md, "One rule for every cache of store data"). A change made by an admin
/// command in another process applies to the very next question, and a question costs one read
/// of the generation instead of two queries parsed and planned afresh (a fifth of the gateway's
/// CPU per HTTP request). Expiry is checked against the clock on every answer, never cached.
/// </summary>
internal sealed class AccessCache(ITokenStore tokens, IRuleStore rules, IStoreGeneration generation)
{
    /// <summary>What an unknown id is hashed against, so it costs the same as a wrong secret.</summary>
    private static readonly byte[] NoHash = new byte[32];

    private readonly ConcurrentDictionary<string, (long Generation, AccessPolicy Policy)> _policies = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Generation, StoredToken Token)> _tokens = new(StringComparer.Ordinal);

    /// <summary>
    /// Finds who a token belongs to. Every failure (unknown id, wrong secret, revoked, expired,
    /// disabled, wrong kind) returns null alike, so a caller cannot tell them apart.
    /// </summary>
    public Principal? Authenticate(string? presented, PrincipalKind expected, DateTimeOffset now) =>
        Authenticate(presented, expected, now, out _);

    /// <summary>
    /// <paramref name="stale"/> names the principal when the secret was right but the token is
    /// revoked or expired or its principal disabled: a stale credential, not a guess. Only the
    /// gateway's own bookkeeping (rate limit, audit) sees the difference; the peer never does.
    /// The secret is compared with the stored hash, in constant time, on every call.
    /// </summary>
    public Principal? Authenticate(string? presented, PrincipalKind expected, DateTimeOffset now, out string? stale)
    {
        stale = null;
        if (!TokenSecret.TryParse(presented, out var token) || token.Kind != expected)
        {
            return null;
        }
        var (stored, readAt, cached) = Find(token.Id);
        if (stored is null || stored.Kind != expected)
        {
            _ = TokenSecret.SecretMatches(token, NoHash);
            return null;
        }
        if (!TokenSecret.SecretMatches(token, stored.SecretHash))
        {
            return null;
        }
        if (!stored.IsValidAt(now))
        {
            stale = stored.Principal;
            return null;
        }
        Remember(stored, readAt, cached);
        return stored.ToPrincipal();
    }

    /// <summary>
    /// Whether a token that authenticated earlier still would: not revoked, not expired, its
    /// principal not disabled. The access monitor asks this of every live connection.
    /// </summary>
    public bool IsTokenValid(string id, DateTimeOffset now)
    {
        var (stored, readAt, cached) = Find(id);
        if (stored?.IsValidAt(now) != true)
        {
            return false;
        }
        Remember(stored, readAt, cached);
        return true;
    }

    /// <summary>The rules that apply to <paramref name="user"/>: their own, their groups' and @everyone's.</summary>
    public AccessPolicy LoadPolicy(string user) => LoadPolicy(user, generation.Read());

    /// <summary>
    /// The rules as of store generation <paramref name="current"/>, which the caller read for
    /// another answer to the same request (its session), so one read of the generation serves the
    /// whole request: on SQLite that read is most of what a cached answer costs.
    /// </summary>
    public AccessPolicy LoadPolicy(string user, long current)
    {
        if (_policies.TryGetValue(user, out var cached) && cached.Generation == current)
        {
            return cached.Policy;
        }
        // Tagged with the generation read before the rules: a change committed in between makes the next call read again.
        var policy = new AccessPolicy(user, rules.For(user));
        _policies[user] = (current, policy);
        return policy;
    }

    /// <summary>
    /// The token from memory if it was read at the current generation, else from the store, with
    /// the generation it was read at. Only tokens that proved valid are kept, so guesses take no memory.
    /// </summary>
    private (StoredToken? Token, long Generation, bool Cached) Find(string id)
    {
        // Read before the token: a change committed in between makes the next call read again.
        var current = generation.Read();
        return _tokens.TryGetValue(id, out var cached) && cached.Generation == current
            ? (cached.Token, current, true)
            : (tokens.Find(id), current, false);
    }

    private void Remember(StoredToken token, long readAt, bool cached)
    {
        if (!cached)
        {
            _tokens[token.Id] = (readAt, token);
        }
    }
}
