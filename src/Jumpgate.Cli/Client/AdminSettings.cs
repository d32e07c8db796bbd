using System.Text.Json;

namespace Jumpgate.Cli.Client;

/// <summary>
/// What `jumpgate admin login` saves, apart from a user's login (config.json): an admin token is
/// never sent on a user's ssh ProxyCommand, and a user's token never reaches the admin API.
/// </summary>
internal sealed record AdminSettings
{
    public required string Gateway { get; init; }
    public string? Fingerprint { get; init; }
    public required string Token { get; init; }

    public static string FilePath => Path.Combine(ClientSettings.Directory, "admin.json");

    public static AdminSettings Load()
    {
        var path = FilePath;
        if (!File.Exists(path))
        {
            throw new CliException($"no admin login ({path} does not exist); run `jumpgate admin login https://GATEWAY --token-file ADMIN.token --fingerprint FINGERPRINT` first, or give --dir to work on a gateway's store directly");
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), ClientJson.Default.AdminSettings)
                ?? throw new CliException($"{path} is empty; run `jumpgate admin login` again");
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not valid ({e.Message}); run `jumpgate admin login` again");
        }
    }

    /// <summary>Owner-only (0600), replaced atomically, like the user's login.</summary>
    public void Save() => ClientSettings.WritePrivate(FilePath, stream => JsonSerializer.Serialize(stream, this, ClientJson.Default.AdminSettings));
}
