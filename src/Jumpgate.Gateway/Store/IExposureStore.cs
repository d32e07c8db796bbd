using System.Net;

namespace Jumpgate.Gateway.Store;

/// <summary>
/// A public TCP port that every gateway of the store opens and relays to a host's service, only
/// for connections from <see cref="Allow"/>; the rules and the audit see it as the user
/// <see cref="User"/>.
/// </summary>
internal sealed record Exposure(string Name, string Host, string Service, int Port, IReadOnlyList<IPNetwork> Allow, DateTimeOffset Created)
{
    /// <summary>What an exposure's connections are called where a user's name goes: <c>expose:NAME</c>.</summary>
    public const string UserPrefix = "expose:";

    public string User => UserPrefix + Name;

    public bool Allows(IPAddress source)
    {
        // A client on an IPv6 socket bound to both families arrives as ::ffff:a.b.c.d; the admin wrote a.b.c.d.
        var address = source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source;
        return Allow.Any(network => network.Contains(address));
    }
}

/// <summary>The exposed ports (<see cref="Exposure"/>); every write moves the store's generation, so running gateways see it at once.</summary>
internal interface IExposureStore
{
    /// <summary>Adds an exposure; a name or a port in use already is refused in words.</summary>
    void Add(Exposure exposure);

    /// <summary>Removes the exposure named <paramref name="name"/>; false when there is none.</summary>
    bool Remove(string name);

    /// <summary>Every exposure, ordered by name.</summary>
    IReadOnlyList<Exposure> List();
}
