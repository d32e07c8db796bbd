using System.Net.Security;
using Jumpgate.Core.Security;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// Kestrel's TLS settings when the certificate comes from ACME: chosen per handshake, so a renewal
/// takes effect on the next connection without a restart, with the same protocols and ciphers as a
/// certificate from files.
/// </summary>
internal static class AcmeTls
{
    public static TlsHandshakeCallbackOptions Options(AcmeCertificates certificates, TimeSpan handshakeTimeout) => new()
    {
        HandshakeTimeout = handshakeTimeout,
        OnConnection = _ => ValueTask.FromResult(new SslServerAuthenticationOptions
        {
            // Null only before the first certificate is in hand (start-up); the handshake then fails, and the gateway has not said it listens.
            ServerCertificateContext = certificates.Context,
            EnabledSslProtocols = TlsDefaults.Protocols,
            CipherSuitesPolicy = TlsDefaults.CipherSuites,
        }),
    };
}
