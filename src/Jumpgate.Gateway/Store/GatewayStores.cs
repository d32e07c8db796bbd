namespace Jumpgate.Gateway.Store;

/// <summary>
/// One backend's parts, one per concern, as the gateway's composition registers them and the admin
/// commands on the gateway's own machine use them. Disposing lets go of what the backend holds open.
/// </summary>
internal sealed record GatewayStores(
    IPrincipalStore Principals,
    ITokenStore Tokens,
    IRuleStore Rules,
    IHostStore Hosts,
    IAuditStore Audit,
    IWebSessionStore WebSessions,
    ISignInCodeStore SignInCodes,
    IExposureStore Exposures,
    IHostKeyStore HostKeys,
    IOidcRefreshStore OidcRefresh,
    IStoreGeneration Generation,
    IDisposable Backend) : IDisposable
{
    /// <summary>Whether the database answers, as the parts' operations find out.</summary>
    public required StoreHealth Health { get; init; }

    public void Dispose() => Backend.Dispose();
}
