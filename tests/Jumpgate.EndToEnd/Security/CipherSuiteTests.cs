using System.Net.Security;
using System.Net.Sockets;
using Jumpgate.Core.Protocol;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// Which TLS suite each kind of peer gets from a real gateway: Jumpgate's own clients get
/// AES-128-GCM (the cheaper pass for every tunneled byte), while a client that prefers something
/// else, as a browser may, is still served by the gateway's defaults.
/// </summary>
public sealed class CipherSuiteTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Deployment _deployment = null!;

    public async Task InitializeAsync() => _deployment = await Deployment.StartAsync(output);

    public async Task DisposeAsync() => await _deployment.DisposeAsync();

    [Fact]
    public async Task TunnelClientsGetAes128GcmOverTls13()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var gateway = GatewayEndpoint.Parse(_deployment.GatewayUrl, _deployment.Fingerprint);
        await using var tls = await GatewayDialer.ConnectTlsAsync(gateway, deadline.Token);
        Assert.Equal(System.Security.Authentication.SslProtocols.Tls13, tls.Tls.SslProtocol);
        Assert.Equal(TlsCipherSuite.TLS_AES_128_GCM_SHA256, tls.Tls.NegotiatedCipherSuite);
    }

    [Fact]
    public async Task AClientOfferingOnlyAes256IsStillServed()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var uri = new Uri(_deployment.GatewayUrl);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port, deadline.Token);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            CipherSuitesPolicy = new CipherSuitesPolicy([TlsCipherSuite.TLS_AES_256_GCM_SHA384]),
        }, deadline.Token);
        Assert.Equal(TlsCipherSuite.TLS_AES_256_GCM_SHA384, tls.NegotiatedCipherSuite);
    }
}
