using Jumpgate.Core.Security;

namespace Jumpgate.Core.Api;

/// <summary>The JSON API's paths: the gateway maps them and the CLI asks for them, so both read them from here.</summary>
internal static class ApiPaths
{
    public const string WhoAmI = "/api/v1/whoami";

    public const string Hosts = "/api/v1/hosts";

    /// <summary>Takes the query parameters <c>host</c> and <c>service</c>.</summary>
    public const string Open = "/api/v1/open";

    /// <summary>The SSH host keys the gateway vouches for; takes the query parameter <c>host</c>.</summary>
    public const string HostKeys = "/api/v1/host-keys";

    /// <summary>A one-time sign-in link for the dashboard on the gateway's own name (`jumpgate open --dashboard`).</summary>
    public const string Dashboard = "/api/v1/dashboard";

    /// <summary>Every path of the admin API starts here.</summary>
    public const string Admin = "/api/v1/admin";

    /// <summary>The admin API's collection of one kind of principal under <see cref="Admin"/>: users, agents or admins.</summary>
    public static string Principals(PrincipalKind kind) => PrincipalKinds.Text(kind) + "s";
}
