using System.Net;
using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Gateway.Configuration;

/// <summary>
/// The <c>oidc:</c> section of gateway.yaml: sign-in with the lab's own identity provider
/// (OpenID Connect). Off unless set; user tokens keep working beside it.
/// </summary>
internal sealed record OidcOptions
{
    public const string Section = "oidc";

    /// <summary>The provider's issuer URL (its <c>/.well-known/openid-configuration</c> is read at start). Required. HTTPS, except on a loopback address.</summary>
    public required Uri Issuer { get; init; }

    /// <summary>The client id the provider registered for this gateway. Required.</summary>
    public required string ClientId { get; init; }

    /// <summary>A file holding the client secret (mode 0600, like the key): never in gateway.yaml, so the file can be shown. Required.</summary>
    public required string ClientSecretFile { get; init; }

    /// <summary>Scopes asked for. Default openid, profile, groups and offline_access (a refresh token, so the provider can end a session).</summary>
    public IReadOnlyList<string> Scopes { get; init; } = ["openid", "profile", "groups", "offline_access"];

    /// <summary>The claim that holds the Jumpgate user name. Default preferred_username (Keycloak, GitLab, oidc-provider).</summary>
    public string ClaimUser { get; init; } = "preferred_username";

    /// <summary>The claim that holds the user's groups, each a Jumpgate <c>@group</c>. Default groups.</summary>
    public string ClaimGroups { get; init; } = "groups";

    /// <summary>Whether a user the gateway does not know is created on first sign-in. Default false: an admin adds users first.</summary>
    public bool CreateUsers { get; init; }

    /// <summary>The button's words, "Sign in with …". Default the issuer's host name.</summary>
    public string DisplayName { get; init; } = "";

    /// <summary>How often the refresh token of each live OIDC sign-in is used, which is when the provider can end it. Default 5 min.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a token from `jumpgate login --sso` lives before the CLI renews it through the provider,
    /// which is when the provider can end it. Default 1 h: a renewal an hour costs the CLI one round
    /// trip, and a user the provider removed keeps access for at most that long.
    /// </summary>
    public TimeSpan CliSession { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Whether the issuer may be plain HTTP: only on a loopback address (a provider on the same machine, or a test's).</summary>
    public bool AllowsHttp => Issuer.IsLoopback || IPAddress.TryParse(Issuer.Host, out var address) && IPAddress.IsLoopback(address);

    public static OidcOptions? Parse(YamlFile file, YamlMappingNode root)
    {
        if (file.Mapping(root, Section, Section) is not { } section)
        {
            return null;
        }
        file.RejectUnknown(section, Section, "issuer", "client_id", "client_secret_file", "scopes", "claim_user", "claim_groups", "create_users", "display_name", "refresh_interval", "cli_session");
        var issuerText = file.String(section, "issuer", $"{Section}.issuer", required: true);
        var issuer = new Uri("https://invalid.invalid/");
        if (issuerText is not null)
        {
            if (!Uri.TryCreate(issuerText, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("https" or "http"))
            {
                file.Error(YamlFile.Get(section, "issuer"), $"{Section}.issuer", "expected the provider's issuer URL, e.g. https://sso.example.org/realms/lab");
            }
            else
            {
                issuer = parsed;
            }
        }
        var scopes = file.Strings(section, "scopes", $"{Section}.scopes").Select(s => s.Value).ToList();
        var defaults = new OidcOptions { Issuer = issuer, ClientId = "", ClientSecretFile = "" };
        var options = new OidcOptions
        {
            Issuer = issuer,
            ClientId = file.String(section, "client_id", $"{Section}.client_id", required: true) ?? "",
            ClientSecretFile = file.ResolvePath(file.String(section, "client_secret_file", $"{Section}.client_secret_file", required: true) ?? "oidc-client-secret"),
            Scopes = scopes.Count == 0 ? defaults.Scopes : scopes.Contains("openid") ? scopes : ["openid", .. scopes],
            ClaimUser = file.String(section, "claim_user", $"{Section}.claim_user") ?? defaults.ClaimUser,
            ClaimGroups = file.String(section, "claim_groups", $"{Section}.claim_groups") ?? defaults.ClaimGroups,
            CreateUsers = file.Bool(section, "create_users", $"{Section}.create_users") ?? false,
            DisplayName = file.String(section, "display_name", $"{Section}.display_name") ?? issuer.Host,
            RefreshInterval = file.Duration(section, "refresh_interval", $"{Section}.refresh_interval") ?? defaults.RefreshInterval,
            CliSession = file.Duration(section, "cli_session", $"{Section}.cli_session") ?? defaults.CliSession,
        };
        if (issuer.Scheme == "http" && !options.AllowsHttp)
        {
            file.Error(YamlFile.Get(section, "issuer"), $"{Section}.issuer", "must be https:// (plain http only for a provider on a loopback address)");
        }
        if (options.RefreshInterval < TimeSpan.FromSeconds(1))
        {
            file.Error(YamlFile.Get(section, "refresh_interval"), $"{Section}.refresh_interval", "must be at least 1s");
        }
        if (options.CliSession < TimeSpan.FromSeconds(1))
        {
            file.Error(YamlFile.Get(section, "cli_session"), $"{Section}.cli_session", "must be at least 1s");
        }
        return options;
    }
}
