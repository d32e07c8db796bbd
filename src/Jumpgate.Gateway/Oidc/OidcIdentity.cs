using System.Security.Claims;
using Jumpgate.Core.Naming;
using Jumpgate.Gateway.Configuration;

namespace Jumpgate.Gateway.Oidc;

/// <summary>
/// Who a provider's claims say the person is, in Jumpgate's terms: the user name (claim
/// <c>oidc.claim_user</c>), the groups that become <c>@groups</c> (claim <c>oidc.claim_groups</c>),
/// and the provider's subject, which the audit records.
/// </summary>
internal sealed record OidcIdentity(string User, IReadOnlyList<string> Groups, string Subject)
{
    /// <summary>The identity, or why the claims cannot name a Jumpgate user.</summary>
    public static (OidcIdentity? Identity, string? Error) From(IEnumerable<Claim> claims, OidcOptions options)
    {
        var all = claims.ToList();
        var subject = all.FirstOrDefault(c => c.Type == "sub")?.Value;
        var user = all.FirstOrDefault(c => c.Type == options.ClaimUser)?.Value;
        if (string.IsNullOrEmpty(subject))
        {
            return (null, "the identity provider's token names no subject (sub)");
        }
        if (string.IsNullOrEmpty(user))
        {
            return (null, $"the identity provider sent no {options.ClaimUser} claim; set oidc.claim_user to the claim that holds the user name");
        }
        if (!Names.IsValid(user))
        {
            return (null, $"the identity provider's {options.ClaimUser} '{user}' is not a Jumpgate user name ({Names.Rule})");
        }
        var groups = all.Where(c => c.Type == options.ClaimGroups)
            // Keycloak sends group paths (/lab-a); a group's last segment is its name.
            .Select(c => c.Value.TrimStart('/'))
            .Where(Names.IsValid)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        return (new OidcIdentity(user, groups, subject), null);
    }
}
