using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Jumpgate.TestSupport;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// A gateway (short header timeout) with agent lab-a serving node1's `web` HTTP service, answered
/// by a real Kestrel upstream; researcher may reach everything, outsider nothing.
/// </summary>
public sealed class HttpFixture : IAsyncDisposable
{
    public const string Label = "web--node1";

    private HttpFixture(Deployment deployment, HttpUpstream upstream, string outsiderToken)
    {
        Deployment = deployment;
        Upstream = upstream;
        OutsiderToken = outsiderToken;
        Browser = new GatewayBrowser(deployment.GatewayUrl, deployment.Fingerprint);
    }

    public Deployment Deployment { get; }

    public HttpUpstream Upstream { get; }

    public GatewayBrowser Browser { get; }

    public string OutsiderToken { get; }

    public static async Task<HttpFixture> StartAsync(ITestOutputHelper output)
    {
        var upstream = await HttpUpstream.StartAsync();
        var deployment = await Deployment.StartAsync(output, gatewayYaml: "http:\n  header_timeout: 2s");
        await deployment.AddAgentAsync("lab-a", "node*");
        await deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                web: {"{"} port: {upstream.Port}, http: true {"}"}
            """);
        var outsider = await deployment.AddUserAsync("outsider");
        await Admin(deployment, "revoke", "@everyone", "*");
        await Admin(deployment, "grant", "researcher", "*");
        return new HttpFixture(deployment, upstream, outsider);
    }

    /// <summary>The one-time sign-in link for node1's web service, landing on a page the upstream answers.</summary>
    public Task<Uri> OpenLinkAsync() => Deployment.OpenLinkAsync("node1", "web", "/headers?signed-in");

    /// <summary>Signs <see cref="Browser"/> in on the web service through a one-time link; returns the service's answer.</summary>
    public async Task SignInAsync()
    {
        var (response, _) = await Browser.FollowAsync(await OpenLinkAsync());
        using (response)
        {
            response.EnsureSuccessStatusCode();
        }
    }

    /// <summary>
    /// Sends raw bytes over TLS to the gateway as <paramref name="sni"/> and returns what came back
    /// until the gateway closed or <paramref name="timeout"/> passed: for requests no HTTP client would send.
    /// </summary>
    public async Task<string> RawAsync(string sni, string request, TimeSpan timeout, bool finish = true)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Browser.Port);
        await using var tls = new SslStream(client.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = sni,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        await tls.WriteAsync(Encoding.ASCII.GetBytes(request));
        await tls.FlushAsync();
        using var deadline = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            while (received.Length < 1 << 20)
            {
                var read = await tls.ReadAsync(buffer, deadline.Token);
                if (read == 0)
                {
                    break;
                }
                received.Write(buffer, 0, read);
                if (!finish && Encoding.ASCII.GetString(received.ToArray()).Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // Timed out or reset: what arrived so far is the answer.
        }
        return Encoding.ASCII.GetString(received.ToArray());
    }

    private static async Task Admin(Deployment deployment, params string[] arguments)
    {
        var result = await deployment.JumpgateAsync(["gateway", .. arguments, "--dir", deployment.GatewayDir]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(result.ToString());
        }
    }

    public async ValueTask DisposeAsync()
    {
        Browser.Dispose();
        await Deployment.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
