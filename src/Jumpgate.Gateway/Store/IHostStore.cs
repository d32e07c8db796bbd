using Jumpgate.Core.Protocol;

namespace Jumpgate.Gateway.Store;

/// <summary>A host as the store remembers it, whether or not its agent is online.</summary>
internal sealed record KnownHost(string Name, string Agent, IReadOnlyList<ServiceAnnouncement> Services, DateTimeOffset LastSeen);

/// <summary>The hosts agents have announced, remembered so that an offline host can be named and listed.</summary>
internal interface IHostStore
{
    /// <summary>Records what an agent serves now, forgetting hosts it no longer announces. Services' own tokens are never stored.</summary>
    void Replace(string agent, IReadOnlyList<HostAnnouncement> hosts, DateTimeOffset now);

    /// <summary>Moves the last-seen time of every host of <paramref name="agent"/>.</summary>
    void MarkSeen(string agent, DateTimeOffset now);

    /// <summary>Every remembered host (ordered by name and agent), or those named <paramref name="name"/>, the most recently seen first.</summary>
    IReadOnlyList<KnownHost> List(string? name = null);
}
