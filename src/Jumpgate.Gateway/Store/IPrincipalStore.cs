using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;

namespace Jumpgate.Gateway.Store;

/// <summary>A user or agent as the admin commands list it.</summary>
internal sealed record PrincipalRow(string Name, PrincipalKind Kind, string? HostPatterns, bool Disabled, DateTimeOffset Created)
{
    /// <summary>The user's groups (none for agents); every user is also in the implicit group everyone.</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];
}

/// <summary>
/// Who exists: users, agents and admins, whether they are disabled, and the users' groups. Every
/// method that changes something throws <see cref="InvalidOperationException"/> with words for the
/// admin when it cannot (a name taken, a principal that does not exist).
/// </summary>
internal interface IPrincipalStore
{
    /// <summary>Adds a user, agent or admin and returns its first token, which is shown once and never stored.</summary>
    TokenSecret Add(PrincipalKind kind, string name, HostPatterns? patterns, DateTimeOffset now, IReadOnlyList<string>? groups = null);

    IReadOnlyList<PrincipalRow> List(PrincipalKind kind);

    bool Exists(PrincipalKind kind, string name);

    /// <summary>Disables (or enables) a principal: its tokens stop authenticating and its live connections are closed.</summary>
    void SetDisabled(PrincipalKind kind, string name, bool disabled);

    void AddToGroups(string user, IReadOnlyList<string> groups);

    /// <summary>Takes a user out of groups; returns the groups they were in and are no longer.</summary>
    IReadOnlyList<string> RemoveFromGroups(string user, IReadOnlyList<string> groups);
}
