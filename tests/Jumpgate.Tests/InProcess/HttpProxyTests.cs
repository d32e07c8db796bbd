using System.Net;
using System.Text.Json;
using Jumpgate.Cli.Client;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A browser reaches an HTTP service on its subdomain through the gateway's HTTP proxy and the
/// agent: signed in with the one-time link `jumpgate open` prints, then served by a real HTTP
/// server on loopback, byte for byte.
/// </summary>
public sealed class HttpProxyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private GatewayInProcess _gateway = null!;
    private HttpUpstream _upstream = null!;
    private AgentInProcess _agent = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayInProcess.StartAsync(output);
        _upstream = await HttpUpstream.StartAsync();
        _agent = await AgentInProcess.StartAsync(_gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["web"] = _upstream.Port },
        }, http: new HashSet<string> { "web" });
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _upstream.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task ASignedInBrowserGetsTheServicesAnswers()
    {
        using var browser = new GatewayBrowser(_gateway.Url, _gateway.Fingerprint.ToString());
        using var api = new GatewayApi(_gateway.Endpoint, _gateway.UserToken);
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        var link = await api.OpenAsync("node1", "web", deadline.Token);
        var signIn = new Uri(link.SignInUrl.Replace("next=%2F", "next=" + Uri.EscapeDataString("/headers?signed-in"), StringComparison.Ordinal));

        var (landed, visited) = await browser.FollowAsync(signIn, deadline.Token);

        using (landed)
        {
            Assert.Equal(HttpStatusCode.OK, landed.StatusCode);
            using var mirrored = JsonDocument.Parse(await landed.Content.ReadAsStringAsync(deadline.Token));
            output.WriteLine(mirrored.RootElement.ToString());
        }
        Assert.Equal(browser.ServiceUri("web--node1", "/headers?signed-in"), visited[^1]);
        Assert.True(_upstream.SawRequest("/headers?signed-in"));

        var body = await browser.Client.GetByteArrayAsync(browser.ServiceUri("web--node1", "/download?bytes=300000&seed=7"), deadline.Token);
        var expected = new byte[300_000];
        DeterministicBytes.Fill(expected, 0, 7);
        Assert.Equal(expected, body);
    }
}
