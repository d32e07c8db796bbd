using System.Text.Json.Serialization;

namespace Jumpgate.Core.Api;

/// <summary>One host as `jumpgate ls` shows it.</summary>
internal sealed record HostListing
{
    public required string Name { get; init; }
    public required bool Online { get; init; }
    public required IReadOnlyList<string> Agents { get; init; }
    public DateTimeOffset? LastSeen { get; init; }
    public required IReadOnlyList<ServiceListing> Services { get; init; }
}

internal sealed record ServiceListing(string Name, bool Http);

internal sealed record WhoAmI(string User, string Gateway, string Domain);

/// <summary>A service's address and a one-time link that signs a browser in on it.</summary>
internal sealed record OpenLink(string Url, string SignInUrl, int ExpiresInSeconds);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<HostListing>))]
[JsonSerializable(typeof(WhoAmI))]
[JsonSerializable(typeof(OpenLink))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class ApiJson : JsonSerializerContext;
