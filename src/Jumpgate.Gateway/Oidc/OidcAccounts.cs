using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Gateway.Oidc;

/// <summary>
/// Turns a provider's identity into a Jumpgate user: the user must exist (or is created, with
/// <c>oidc.create_users</c>) and be enabled; their groups become exactly the provider's, so the
/// rules granted to <c>@groups</c> apply unchanged; and the sign-in gets a token of its own with an
/// expiry, which the browser session or the CLI holds. Revoking that token ends the sign-in.
/// </summary>
internal sealed class OidcAccounts(OidcOptions options, IPrincipalStore principals, ITokenStore tokens, AuditLog audit, TimeProvider time)
{
    /// <summary>
    /// Admits <paramref name="identity"/>: the token for this sign-in (valid until <paramref name="expires"/>),
    /// or the refusal a person sees. Audited either way, with the provider's subject.
    /// </summary>
    public (TokenSecret? Token, string? Refusal) Admit(OidcIdentity identity, DateTimeOffset expires, string? source, string how)
    {
        var now = time.GetUtcNow();
        var row = principals.List(PrincipalKind.User).FirstOrDefault(u => u.Name == identity.User);
        string? refusal = null;
        if (row is null && !options.CreateUsers)
        {
            refusal = $"user {identity.User} is not known to this gateway; an admin adds them with `jumpgate gateway add-user {identity.User}`";
        }
        else if (row is { Disabled: true })
        {
            refusal = $"user {identity.User} is disabled on this gateway";
        }
        if (refusal is not null)
        {
            Audit("failed", identity, source, $"{how}: {refusal}");
            return (null, refusal);
        }
        if (row is null)
        {
            // The store hands every new user a first token; an OIDC user signs in through the provider, so nobody may hold it.
            var first = principals.Add(PrincipalKind.User, identity.User, null, now, identity.Groups);
            tokens.Revoke(first.Id);
            Audit("created", identity, source, $"{how}: created on first sign-in with groups [{string.Join(", ", identity.Groups)}]");
        }
        else
        {
            SyncGroups(identity, row.Groups);
        }
        var token = tokens.Add(PrincipalKind.User, identity.User, now, expires);
        Audit("signed_in", identity, source, $"{how}: token {token.Id}, groups [{string.Join(", ", identity.Groups)}]");
        return (token, null);
    }

    /// <summary>Makes the user's groups the provider's: added where new, removed where the provider no longer lists them.</summary>
    public void SyncGroups(OidcIdentity identity, IReadOnlyList<string>? current = null)
    {
        current ??= principals.List(PrincipalKind.User).FirstOrDefault(u => u.Name == identity.User)?.Groups ?? [];
        var added = identity.Groups.Except(current, StringComparer.Ordinal).ToList();
        var removed = current.Except(identity.Groups, StringComparer.Ordinal).ToList();
        if (added.Count > 0)
        {
            principals.AddToGroups(identity.User, added);
        }
        if (removed.Count > 0)
        {
            principals.RemoveFromGroups(identity.User, removed);
        }
        if (added.Count > 0 || removed.Count > 0)
        {
            Audit("groups", identity, null, $"groups from the identity provider: added [{string.Join(", ", added)}], removed [{string.Join(", ", removed)}]");
        }
    }

    /// <summary>Ends a sign-in the provider no longer vouches for: its token is revoked, which ends its sessions and streams.</summary>
    public void End(string tokenId, OidcIdentity identity, string reason)
    {
        try
        {
            tokens.Revoke(tokenId);
        }
        catch (InvalidOperationException)
        {
            // Already gone (an admin removed it): the sign-in is over either way.
        }
        Audit("ended", identity, null, reason);
    }

    private void Audit(string outcome, OidcIdentity identity, string? source, string reason) => audit.Write(new AuditEvent
    {
        Time = time.GetUtcNow(), Event = AuditEvent.KindSignIn, Outcome = outcome, User = identity.User, Source = source,
        Reason = $"{reason}; provider {options.Issuer} subject {identity.Subject}",
    });
}
