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

    /// <summary>Each online agent's replica of each service; empty when offline (and absent from a gateway older than replicas).</summary>
    public IReadOnlyList<ReplicaListing> Replicas { get; init; } = [];
}

internal sealed record ServiceListing(string Name, bool Http);

/// <summary>
/// One agent's replica of a service: whether its agent's health check passes, why it last failed
/// (also once it passes again), and the streams and HTTP requests the gateway carries to it now.
/// </summary>
internal sealed record ReplicaListing(string Agent, string Service, bool Healthy, string? LastFailure, int OpenStreams);

/// <param name="TokenExpires">When the token asked with expires (null: never), so `jumpgate doctor` can warn before it does.</param>
internal sealed record WhoAmI(string User, string Gateway, string Domain, DateTimeOffset? TokenExpires = null);

/// <summary>
/// The SSH host keys the gateway vouches for (`jumpgate known-hosts`), each <c>TYPE BASE64</c>;
/// empty when it has none, and then <see cref="Note"/> says why when the host is known.
/// </summary>
internal sealed record HostKeysAnswer(string Host, IReadOnlyList<string> Keys, string? Note = null);

/// <summary>A service's address and a one-time link that signs a browser in on it.</summary>
internal sealed record OpenLink(string Url, string SignInUrl, int ExpiresInSeconds);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<HostListing>))]
[JsonSerializable(typeof(WhoAmI))]
[JsonSerializable(typeof(OpenLink))]
[JsonSerializable(typeof(HostKeysAnswer))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class ApiJson : JsonSerializerContext;
