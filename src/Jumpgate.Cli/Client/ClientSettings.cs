using System.Text.Json;
using System.Text.Json.Serialization;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Client;

/// <summary>What `jumpgate login` saves: the gateways in the login's order (<see cref="GatewayPreference"/> puts the one that answered last first), their pinned fingerprint and the user's token.</summary>
internal sealed record ClientSettings
{
    /// <summary>The first gateway; kept on its own so a file saved before several gateways existed still reads.</summary>
    public required string Gateway { get; init; }

    /// <summary>Every gateway given to login, in order; null in a file from a single-gateway login.</summary>
    public IReadOnlyList<string>? Gateways { get; init; }

    public string? Fingerprint { get; init; }
    public required string Token { get; init; }

    /// <summary>With `login --sso`: when <see cref="Token"/> expires; the CLI gets the next one before then with <see cref="SsoRefreshToken"/>.</summary>
    public DateTimeOffset? TokenExpires { get; init; }

    /// <summary>With `login --sso`: when the next command renews <see cref="Token"/> (<see cref="SsoSignIn.RenewalTime"/>); null in a file saved before it was kept.</summary>
    public DateTimeOffset? TokenRenews { get; init; }

    /// <summary>With `login --sso`: the identity provider's refresh token, which only the gateway (holding the client secret) can use.</summary>
    public string? SsoRefreshToken { get; init; }

    /// <summary>The gateways in the order to try them, each pinned to the one fingerprint (gateways sharing a store share a certificate).</summary>
    public IReadOnlyList<GatewayEndpoint> Endpoints() => Parse(Gateways, Gateway, Fingerprint);

    internal static IReadOnlyList<GatewayEndpoint> Parse(IReadOnlyList<string>? gateways, string gateway, string? fingerprint) =>
        [.. (gateways is { Count: > 0 } ? gateways : [gateway]).Select(g => GatewayEndpoint.Parse(g, fingerprint))];

    /// <summary>The addresses as a person reads them: "https://a, https://b".</summary>
    public static string Describe(IReadOnlyList<GatewayEndpoint> gateways) => string.Join(", ", gateways);

    /// <summary><c>$XDG_CONFIG_HOME/jumpgate</c>, or <c>~/.config/jumpgate</c> when it is unset.</summary>
    public static string Directory
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            var root = string.IsNullOrEmpty(xdg)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config")
                : xdg;
            return Path.Combine(root, "jumpgate");
        }
    }

    public static string FilePath => Path.Combine(Directory, "config.json");

    public static ClientSettings Load() => ReadSaved(
        FilePath, ClientJson.Default.ClientSettings, "jumpgate login", "not logged in", "run `jumpgate login https://GATEWAY --token TOKEN --fingerprint FINGERPRINT` first");

    /// <summary>Reads what a login command saved; <paramref name="missing"/> and <paramref name="fix"/> say what to do when there is nothing.</summary>
    internal static T ReadSaved<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string login, string missing, string fix)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"{missing} ({path} does not exist); {fix}");
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), type)
                ?? throw new CliException($"{path} is empty; run `{login}` again");
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}); run `{login}` again");
        }
    }

    /// <summary>Writes the settings readable by their owner only (mode 0600), replacing the file atomically.</summary>
    public void Save() => WritePrivate(FilePath, stream => JsonSerializer.Serialize(stream, this, ClientJson.Default.ClientSettings));

    /// <summary>Writes a file that holds a token (or says where it goes): in a folder of mode 0700, mode 0600 from its creation, replaced atomically.</summary>
    internal static void WritePrivate(string path, Action<Stream> write)
    {
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        // Created 0700 (no window at the umask's 0755); an existing folder is narrowed to it.
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        System.IO.Directory.CreateDirectory(folder, ownerOnly);
        File.SetUnixFileMode(folder, ownerOnly);
        // One temporary name per process: commands that run at once (several ssh sessions) never share one.
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.Delete(temporary);
        using (var stream = PrivateFile.CreateNew(temporary))
        {
            write(stream);
        }
        File.Move(temporary, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ClientSettings))]
[JsonSerializable(typeof(AdminSettings))]
internal sealed partial class ClientJson : JsonSerializerContext;
