namespace Jumpgate.Core.Security;

/// <summary>Who a token speaks for. The kind is part of the token so one kind can never pass for another.</summary>
internal enum PrincipalKind
{
    User,
    Agent,

    /// <summary>Manages the gateway through its admin API, and nothing else: it opens no stream and serves no host.</summary>
    Admin,
}

/// <summary>
/// A kind's name (user, agent, admin), the same word everywhere: in the store's rows, the admin
/// API's paths and answers, the commands' arguments and the messages a person reads.
/// </summary>
internal static class PrincipalKinds
{
    public static string Text(PrincipalKind kind) => kind switch
    {
        PrincipalKind.User => "user",
        PrincipalKind.Agent => "agent",
        _ => "admin",
    };

    /// <summary>The kind named by its text (user, agent, admin); false for anything else.</summary>
    public static bool TryParse(string? text, out PrincipalKind kind)
    {
        (var known, kind) = text switch
        {
            "user" => (true, PrincipalKind.User),
            "agent" => (true, PrincipalKind.Agent),
            "admin" => (true, PrincipalKind.Admin),
            _ => (false, PrincipalKind.User),
        };
        return known;
    }

    /// <summary>The kind named by its text; anything else is an admin's mistake, said in words.</summary>
    public static PrincipalKind Parse(string? text) => TryParse(text, out var kind)
        ? kind
        : throw new InvalidOperationException($"'{text}' is none of user, agent or admin");
}
