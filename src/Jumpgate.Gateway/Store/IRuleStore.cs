using Jumpgate.Gateway.Access;

namespace Jumpgate.Gateway.Store;

/// <summary>
/// Access rules: who (a user, <c>@group</c> or <c>@everyone</c>) may reach which hosts and services.
/// A rule without services allows every service of its hosts.
/// </summary>
internal interface IRuleStore
{
    /// <summary>Adds a rule; granting what is already granted changes nothing. Returns false if the rule existed.</summary>
    bool Grant(AccessRule rule, DateTimeOffset now);

    /// <summary>
    /// Removes a rule: without services, every service of that subject and pattern; with services,
    /// those only. Throws <see cref="InvalidOperationException"/> with the reason when there is nothing to remove.
    /// </summary>
    void Revoke(AccessRule rule);

    /// <summary>Every rule, one per subject and pattern with its services gathered.</summary>
    IReadOnlyList<AccessRule> List();

    /// <summary>The rules that apply to <paramref name="user"/>: their own, their groups' and @everyone's.</summary>
    IReadOnlyList<AccessRule> For(string user);
}
