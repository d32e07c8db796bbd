using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// DNS-01: a TXT record <c>_acme-challenge.NAME</c> holding the key authorization's SHA-256 (base64url),
/// put in place by a DNS provider. The only challenge that proves a wildcard.
/// </summary>
internal sealed class Dns01Challenge(IDnsRecords dns) : IAcmeChallenge
{
    public string Type => "dns-01";

    public Task PrepareAsync(string identifier, string token, string keyAuthorization, CancellationToken cancellationToken) =>
        dns.AddTxtAsync(RecordName(identifier), Digest(keyAuthorization), cancellationToken);

    public Task CleanUpAsync(string identifier, string token, string keyAuthorization, CancellationToken cancellationToken) =>
        dns.RemoveTxtAsync(RecordName(identifier), Digest(keyAuthorization), cancellationToken);

    public static string RecordName(string identifier) => "_acme-challenge." + identifier.TrimEnd('.');

    public static string Digest(string keyAuthorization) => Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(keyAuthorization)));
}

/// <summary>
/// What DNS-01 needs of a DNS provider: add and remove one TXT value. Kept this small so that a
/// provider's API (a cloud DNS, PowerDNS's HTTP API) is one class beside <see cref="Rfc2136Records"/>.
/// </summary>
internal interface IDnsRecords
{
    /// <summary>Adds <paramref name="value"/> to the TXT records of <paramref name="name"/>, next to any there already (a wildcard and its base domain need two at once).</summary>
    Task AddTxtAsync(string name, string value, CancellationToken cancellationToken);

    Task RemoveTxtAsync(string name, string value, CancellationToken cancellationToken);
}
