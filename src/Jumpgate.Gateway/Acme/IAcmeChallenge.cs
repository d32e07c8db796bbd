namespace Jumpgate.Gateway.Acme;

/// <summary>One way of proving control of a name to the CA: HTTP-01 (<see cref="Http01Challenge"/>) or DNS-01 (<see cref="Dns01Challenge"/>).</summary>
internal interface IAcmeChallenge
{
    /// <summary>The challenge type as ACME names it (<c>http-01</c>).</summary>
    string Type { get; }

    /// <summary>Puts the proof in place before the CA is told to look.</summary>
    Task PrepareAsync(string identifier, string token, string keyAuthorization, CancellationToken cancellationToken);

    /// <summary>Takes it away once the CA has looked, whatever it found.</summary>
    Task CleanUpAsync(string identifier, string token, string keyAuthorization, CancellationToken cancellationToken);
}
