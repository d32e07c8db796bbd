using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;

namespace Jumpgate.Gateway.Store;

/// <summary>A token as the admin commands list it: never its secret, which the store does not have.</summary>
internal sealed record TokenRow(string Id, PrincipalKind Kind, string Principal, DateTimeOffset Created, DateTimeOffset? Expires, bool Revoked);

/// <summary>
/// A token as the store holds it, with what authenticating it needs to know of its principal.
/// The store only reports; <see cref="AccessCache"/> decides, so every backend answers alike.
/// </summary>
internal sealed record StoredToken(string Id, PrincipalKind Kind, string Principal, HostPatterns? HostPatterns, byte[] SecretHash, DateTimeOffset? Expires, bool Revoked, bool PrincipalDisabled)
{
    /// <summary>Not revoked, not expired at <paramref name="now"/>, its principal not disabled.</summary>
    public bool IsValidAt(DateTimeOffset now) => !Revoked && !PrincipalDisabled && (Expires is null || Expires > now);

    public Principal ToPrincipal() => new(Kind, Principal, HostPatterns, Id);
}

/// <summary>Tokens: issued for an existing principal, listed, revoked, and found by their public id.</summary>
internal interface ITokenStore
{
    /// <summary>Issues one more token for an existing principal; the secret is returned once and never stored.</summary>
    TokenSecret Add(PrincipalKind kind, string name, DateTimeOffset now, DateTimeOffset? expires);

    /// <summary>Revokes a token by its public id; throws <see cref="InvalidOperationException"/> if there is no such token.</summary>
    TokenRow Revoke(string id);

    IReadOnlyList<TokenRow> List();

    /// <summary>The token with this public id and its principal's state, or null.</summary>
    StoredToken? Find(string id);
}
