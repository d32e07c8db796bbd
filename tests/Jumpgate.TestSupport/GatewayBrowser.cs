using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Jumpgate.TestSupport;

/// <summary>
/// What a browser does with the gateway, as an HttpClient: every <c>*.localhost</c> name reaches
/// the gateway's loopback port (as Chromium resolves them), only the gateway's pinned certificate
/// is trusted, cookies are kept per host, and redirects are followed by hand so a test sees each
/// hop. HTTP/2 by default, as browsers speak to the gateway.
/// </summary>
public sealed class GatewayBrowser : IDisposable
{
    private readonly SocketsHttpHandler _handler;

    /// <param name="gatewayUrl">The gateway as the CLI knows it, e.g. https://127.0.0.1:7443.</param>
    /// <param name="fingerprint">SHA256:base64 of the gateway's certificate, as `gateway init` printed it.</param>
    public GatewayBrowser(string gatewayUrl, string fingerprint)
    {
        var gateway = new Uri(gatewayUrl);
        Port = gateway.Port;
        var pinned = fingerprint.StartsWith("SHA256:", StringComparison.Ordinal) ? fingerprint["SHA256:".Length..] : fingerprint;
        _handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            CookieContainer = Cookies,
            UseCookies = true,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(gateway.Host), gateway.Port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null
                    && Convert.ToBase64String(certificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256)).TrimEnd('=') == pinned.TrimEnd('='),
            },
        };
        Client = new HttpClient(_handler, disposeHandler: false)
        {
            Timeout = Signals.Timeout(120),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
    }

    public int Port { get; }

    public CookieContainer Cookies { get; } = new();

    public HttpClient Client { get; }

    /// <summary>For ClientWebSocket.ConnectAsync: the same trust and the same address mapping (cookies go as a header).</summary>
    public HttpMessageHandler Handler => _handler;

    /// <summary>The gateway's own pages: <c>https://localhost:port</c>.</summary>
    public Uri GatewayUri(string path = "/") => new($"https://localhost:{Port}{path}");

    /// <summary>A service's subdomain: <c>https://jupyter--node1.localhost:port/</c>.</summary>
    public Uri ServiceUri(string label, string path = "/") => new($"https://{label}.localhost:{Port}{path}");

    /// <summary>The Cookie header a browser would send to <paramref name="uri"/>.</summary>
    public string CookieHeader(Uri uri) => Cookies.GetCookieHeader(uri);

    /// <summary>GETs <paramref name="uri"/> and follows up to 10 redirects; returns the last response and every URL visited.</summary>
    public async Task<(HttpResponseMessage Response, IReadOnlyList<Uri> Visited)> FollowAsync(Uri uri, CancellationToken cancellationToken = default)
    {
        var visited = new List<Uri> { uri };
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Accept.ParseAdd("text/html");
            var response = await Client.SendAsync(request, cancellationToken);
            if ((int)response.StatusCode is < 300 or >= 400 || response.Headers.Location is null || hop == 10)
            {
                return (response, visited);
            }
            uri = new Uri(uri, response.Headers.Location);
            visited.Add(uri);
            response.Dispose();
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        _handler.Dispose();
    }
}
