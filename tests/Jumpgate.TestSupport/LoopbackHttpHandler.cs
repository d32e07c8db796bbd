using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Jumpgate.TestSupport;

/// <summary>
/// HTTP handlers for tests that talk to the gateway's subdomains: every connection goes to
/// 127.0.0.1 at the URL's port, while the URL's name still travels as Host and TLS SNI.
/// </summary>
/// <remarks>
/// Chromium resolves <c>*.localhost</c> to loopback by itself, but .NET asks the system resolver,
/// and glibc here answers "Name or service not known" for <c>jupyter--node1.gw.localhost</c>.
/// Dialling loopback whatever the name also keeps a typo in a test from reaching the network.
/// </remarks>
public static class LoopbackHttpHandler
{
    /// <param name="trusted">
    /// The one certificate to accept (compared by its SHA-256), whatever its names or issuer, as an
    /// agent pins the gateway's; null for the system's usual validation (or plain HTTP).
    /// </param>
    /// <param name="allowAutoRedirect">
    /// Off by default, so a redirect to the gateway's login page shows up as the 302 it is.
    /// </param>
    /// <param name="cookies">
    /// A container to keep cookies in across requests (a login, then the service); null sends only
    /// the Cookie headers a request carries itself.
    /// </param>
    public static SocketsHttpHandler Create(X509Certificate2? trusted = null, bool allowAutoRedirect = false, CookieContainer? cookies = null)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = allowAutoRedirect,
            UseCookies = cookies is not null,
            ConnectCallback = ConnectToLoopbackAsync,
        };
        if (cookies is not null)
        {
            handler.CookieContainer = cookies;
        }
        if (trusted is not null)
        {
            var pinned = trusted.GetCertHashString(HashAlgorithmName.SHA256);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.GetCertHashString(HashAlgorithmName.SHA256) == pinned;
        }
        return handler;
    }

    private static async ValueTask<Stream> ConnectToLoopbackAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
