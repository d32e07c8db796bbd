using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;

namespace Jumpgate.Tests.Streams;

/// <summary>TLS 1.3 between two <see cref="TlsStream"/>s over loopback TCP, as a direct stream's ends run it: the server has the certificate, the client pins it.</summary>
internal sealed class LoopbackTls : IDisposable
{
    private readonly X509Certificate2 _certificate = DirectLeg.CreateAgentCertificate();

    public LoopbackTls()
    {
        Context = SslStreamCertificateContext.Create(_certificate, null, offline: true);
    }

    public SslStreamCertificateContext Context { get; }

    public Fingerprint Pinned => Fingerprint.Of(_certificate);

    /// <summary>A fresh connection, both ends authenticated.</summary>
    public async Task<(TlsStream Client, TlsStream Server)> ConnectAsync()
    {
        var (clientSocket, serverSocket) = await LoopbackSockets.ConnectAsync();
        var server = TlsStream.Over(new System.Net.Sockets.NetworkStream(serverSocket, ownsSocket: true));
        var client = TlsStream.Over(new System.Net.Sockets.NetworkStream(clientSocket, ownsSocket: true));
        await ShakeHandsAsync(server, client);
        return (client, server);
    }

    public Task ShakeHandsAsync(TlsStream server, TlsStream client) =>
        Task.WhenAll(
            server.Tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = Context,
                EnabledSslProtocols = TlsDefaults.Protocols,
                AllowTlsResume = false,
            }),
            client.Tls.AuthenticateAsClientAsync(TlsDefaults.ClientOptions("jumpgate-agent", Pinned))).WaitAsync(Signals.Timeout(20));

    public void Dispose() => _certificate.Dispose();
}
