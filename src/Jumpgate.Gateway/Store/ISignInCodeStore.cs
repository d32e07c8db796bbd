namespace Jumpgate.Gateway.Store;

/// <summary>
/// What a one-time code lets its bearer do: sign in as this user, on this one service subdomain
/// (<paramref name="Label"/>), as part of sign-in <paramref name="SignIn"/> (so signing out of that
/// sign-in ends this session too), until <paramref name="Expires"/>.
/// </summary>
internal sealed record SignInGrant(string User, string TokenId, string SignIn, string Label, DateTimeOffset Expires);

/// <summary>
/// One-time sign-in codes, kept in the store so that a code minted by one gateway signs a browser
/// in on any gateway of the store (a load balancer need not send the browser back where it signed
/// in). The store keeps each code's SHA-256, never the code, as it keeps tokens: a copy of the
/// store signs nobody in.
/// </summary>
internal interface ISignInCodeStore
{
    /// <summary>Keeps <paramref name="grant"/> under a code's hash; drops the codes expired at <paramref name="now"/>, and past capacity those that expire first.</summary>
    void Add(byte[] codeHash, SignInGrant grant, DateTimeOffset now);

    /// <summary>
    /// Removes the code and returns its grant (expired or not: the caller decides), or null when the
    /// store has no such code: never minted, purged, or taken already. Of any number of gateways
    /// that take one code at once, exactly one gets its grant.
    /// </summary>
    SignInGrant? Take(byte[] codeHash);
}
