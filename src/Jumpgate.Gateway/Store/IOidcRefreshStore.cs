namespace Jumpgate.Gateway.Store;

/// <summary>
/// A browser sign-in made through the identity provider that the gateway keeps asking about:
/// the token it holds, who the provider said it was, and the provider's refresh token sealed with a
/// key that is not in the store (<c>OidcRefreshSeal</c>).
/// </summary>
internal sealed record OidcRefreshRecord(string TokenId, string User, string Subject, IReadOnlyList<string> Groups, string SealedRefreshToken);

/// <summary>The sign-ins <c>OidcRefresher</c> watches, kept so that a restarted gateway goes on watching them.</summary>
internal interface IOidcRefreshStore
{
    /// <summary>Adds the record or replaces the one of its token.</summary>
    void Put(OidcRefreshRecord record);

    void Remove(string tokenId);

    IReadOnlyList<OidcRefreshRecord> List();
}
