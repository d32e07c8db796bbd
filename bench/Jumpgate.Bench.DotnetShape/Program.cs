using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

// .NET in Jumpgate's HTTP shape, nothing of Jumpgate in it (see the project file):
//   proxy PORT RELAY_PORT    HTTPS on 127.0.0.1:PORT, every request forwarded by YARP over a
//                            keep-alive TLS connection to the relay (as the gateway through its agent)
//   relay PORT UPSTREAM_PORT TLS on 127.0.0.1:PORT, each connection relayed as plain TCP to the
//                            upstream (as the agent), socket completions inline on one epoll thread
// Both take TLS 1.3 with AES-128-GCM only, as Jumpgate's legs negotiate, on a throw-away certificate.
if (args.Length != 3 || !int.TryParse(args[1], out var port) || !int.TryParse(args[2], out var next) || args[0] is not ("proxy" or "relay"))
{
    Console.Error.WriteLine("usage: Jumpgate.Bench.DotnetShape proxy PORT RELAY_PORT | relay PORT UPSTREAM_PORT");
    return 2;
}
using var certificate = ThrowAwayCertificate();
if (args[0] == "relay")
{
    // As the agent runs: inline completions on one epoll thread per two cores (docs/decisions.md,
    // "Inline socket completions"); .NET reads both when the first socket registers.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", Math.Max(1, Environment.ProcessorCount / 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
    await TlsRelay.RunAsync(port, next, certificate);
    return 0;
}
await HttpsProxy.RunAsync(port, next, certificate);
return 0;

static X509Certificate2 ThrowAwayCertificate()
{
    using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
    using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    // Through PKCS#12 so that the key is usable by SslStream on Linux.
    return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
}

internal static class Tls
{
    public static CipherSuitesPolicy Aes128Gcm { get; } = new([TlsCipherSuite.TLS_AES_128_GCM_SHA256]);
}

/// <summary>The gateway's part: Kestrel HTTPS, YARP's forwarder, SocketsHttpHandler's pool over TLS to the relay.</summary>
internal static class HttpsProxy
{
    public static async Task RunAsync(int port, int relayPort, X509Certificate2 certificate)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = certificate,
                SslProtocols = SslProtocols.Tls13,
                OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = Tls.Aes128Gcm,
            }));
        });
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
        // The pool as the gateway's (src/Jumpgate.Gateway/Http/UpstreamConnections.cs), with a TLS socket where it opens a stream through the agent.
        using var relay = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ActivityHeadersPropagator = null,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = SslProtocols.Tls13,
                CipherSuitesPolicy = Tls.Aes128Gcm,
                // A throw-away certificate on loopback: the figure is the relaying, not the check.
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            },
        });
        var destination = $"https://127.0.0.1:{relayPort}/";
        var request = new ForwarderRequestConfig { ActivityTimeout = Timeout.InfiniteTimeSpan };
        // Errors are YARP's own responses (502 and the like): wrk counts them as non-2xx, which fails the figure.
        app.Run(async context => await forwarder.SendAsync(context, destination, relay, request, HttpTransformer.Default));
        await app.RunAsync();
    }
}

/// <summary>The agent's part: accept, TLS, connect to the upstream, copy both ways until both ends are done.</summary>
internal static class TlsRelay
{
    public static async Task RunAsync(int port, int upstreamPort, X509Certificate2 certificate)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(4096);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            EnabledSslProtocols = SslProtocols.Tls13,
            CipherSuitesPolicy = Tls.Aes128Gcm,
        };
        while (true)
        {
            var accepted = await listener.AcceptAsync();
            _ = RelayAsync(accepted, upstreamPort, options);
        }
    }

    private static async Task RelayAsync(Socket accepted, int upstreamPort, SslServerAuthenticationOptions options)
    {
        accepted.NoDelay = true;
        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await using var tls = new SslStream(new NetworkStream(accepted, ownsSocket: true));
        try
        {
            await tls.AuthenticateAsServerAsync(options);
            await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, upstreamPort));
            await using var plain = new NetworkStream(upstream, ownsSocket: false);
            await Task.WhenAll(
                CopyAsync(tls, plain, () =>
                {
                    upstream.Shutdown(SocketShutdown.Send);
                    return Task.CompletedTask;
                }),
                CopyAsync(plain, tls, tls.ShutdownAsync));
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            // The peer went away: the figure counts served requests, not this connection's end.
        }
    }

    /// <summary>Copies until the end of <paramref name="from"/>, then passes the end on (a half-close).</summary>
    private static async Task CopyAsync(Stream from, Stream to, Func<Task> passEndOn)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, read));
        }
        await passEndOn();
    }
}
