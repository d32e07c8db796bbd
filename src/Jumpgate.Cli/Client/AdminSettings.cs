using System.Text.Json;

namespace Jumpgate.Cli.Client;

/// <summary>
/// What `jumpgate admin login` saves, apart from a user's login (config.json): an admin token is
/// never sent on a user's ssh ProxyCommand, and a user's token never reaches the admin API.
/// </summary>
internal sealed record AdminSettings
{
    public required string Gateway { get; init; }

    /// <summary>Every gateway given to admin login, in order (as the user's login keeps them).</summary>
    public IReadOnlyList<string>? Gateways { get; init; }

    public string? Fingerprint { get; init; }
    public required string Token { get; init; }

    public IReadOnlyList<Jumpgate.Core.Protocol.GatewayEndpoint> Endpoints() => ClientSettings.Parse(Gateways, Gateway, Fingerprint);

    public static string FilePath => Path.Combine(ClientSettings.Directory, "admin.json");

    public static AdminSettings Load() => ClientSettings.ReadSaved(
        FilePath, ClientJson.Default.AdminSettings, "jumpgate admin login", "no admin login",
        "run `jumpgate admin login https://GATEWAY --token-file ADMIN.token --fingerprint FINGERPRINT` first, or give --dir to work on a gateway's store directly");

    /// <summary>Owner-only (0600), replaced atomically, like the user's login.</summary>
    public void Save() => ClientSettings.WritePrivate(FilePath, stream => JsonSerializer.Serialize(stream, this, ClientJson.Default.AdminSettings));
}
