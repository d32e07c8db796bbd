namespace Jumpgate.Gateway.Store;

/// <summary>
/// A browser's sign-in on one host: which user, through which of their tokens, until when (the
/// session's own expiry or its token's, whichever comes first), the host it was issued for (the
/// gateway's own name or one service subdomain, e.g. <c>web--node1.example.org</c>) and the
/// sign-in it belongs to: every session minted from one sign-in on the gateway shares that id,
/// so signing out ends them together.
/// </summary>
internal sealed record WebSession(string Id, string User, string TokenId, DateTimeOffset Expires, string Host, string SignIn);

/// <summary>
/// Browser sessions. The cookie is <c>id.secret</c>; the store keeps the id and a SHA-256 of the
/// secret, so a copy of the store signs nobody in. A session lives no longer than the token it
/// was signed in with: revoking the token, disabling the user or expiry ends it.
/// </summary>
internal interface IWebSessionStore
{
    /// <summary>Starts a session valid on <paramref name="host"/> alone, as part of sign-in <paramref name="signIn"/>; returns its cookie value, which is never stored.</summary>
    string Create(string user, string tokenId, string host, string signIn, DateTimeOffset now, DateTimeOffset expires);

    /// <summary>The live session a cookie names, or null: unknown, wrong secret, expired, or its token or user no longer valid.</summary>
    WebSession? Find(SessionCookie cookie, DateTimeOffset now);

    /// <summary>Ends every session of one sign-in, on the gateway and every subdomain; returns how many there were.</summary>
    int DeleteSignIn(string signIn);
}
