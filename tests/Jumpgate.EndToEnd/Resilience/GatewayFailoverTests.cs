using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>
/// Two gateways on one throw-away PostgreSQL database (the second made with `gateway init
/// --certificate-from` the first), one agent that lists both, a user logged in with both
/// addresses. Killing the gateway the user's ssh went through loses nothing that was not on it:
/// the same ssh command works through the other with nothing restarted, and a browser signed
/// in on the dead gateway is still signed in on the other. A one-time sign-in link made through
/// one gateway signs a browser in on the other, once.
/// </summary>
public sealed class GatewayFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Web = "web--node1";

    private Sshd _sshd = null!;
    private HttpUpstream _upstream = null!;
    private Deployment _deployment = null!;
    private ChildProcess _agent = null!;
    private string _secondUrl = "";
    private string _sshConfig = "";

    public async Task InitializeAsync()
    {
        try
        {
            await SetUpAsync();
        }
        catch (Exception)
        {
            // What the database was doing, in case a gateway on it did not answer.
            output.WriteLine(PostgresCluster.Shared.Describe());
            throw;
        }
    }

    private async Task SetUpAsync()
    {
        _sshd = await Sshd.StartAsync(output);
        _upstream = await HttpUpstream.StartAsync();
        var url = new UriBuilder(PostgresCluster.Shared.Database(
            // A database per test: the first gateway of each records its own certificate there.
            $"jg_e2e_failover_{Guid.NewGuid():N}"[..24])) { Password = "" }.Uri.ToString();
        // The gateways inherit inline socket completions, as they would from a parent that set them for
        // itself (this test run once did): the gateway must turn them off, or a synchronous read from
        // PostgreSQL on the epoll thread waits for that thread and the gateway answers nothing.
        _deployment = await Deployment.StartAsync(output, store: (url, PostgresCluster.Shared.Password),
            gatewayEnvironment: new Dictionary<string, string> { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1" });
        (_, _secondUrl) = await _deployment.StartAnotherGatewayAsync("gw2");
        var tokenFile = await _deployment.AddAgentAsync("lab-a", "node*");
        await File.WriteAllTextAsync(_deployment.Dir.File("lab-a.yaml"), $$"""
            gateway:
              - {{_deployment.GatewayUrl}}
              - {{_secondUrl}}
            token_file: {{tokenFile}}
            fingerprint: {{_deployment.Fingerprint}}
            hosts:
              node1:
                address: 127.0.0.1
                services:
                  ssh: {{_sshd.Port}}
                  web: { port: {{_upstream.Port}}, http: true }
            """);
        _agent = await _deployment.StartAgentAsync("lab-a", "", waitConnected: false);
        await _agent.WaitForLineAsync($"connected to {Regex.Escape(_deployment.GatewayUrl)} ", Signals.Timeout(60));
        await _agent.WaitForLineAsync($"connected to {Regex.Escape(_secondUrl)} ", Signals.Timeout(60));
        var login = await _deployment.JumpgateAsync("login", _deployment.GatewayUrl, _secondUrl, "--token", _deployment.UserToken, "--fingerprint", _deployment.Fingerprint);
        Assert.True(login.ExitCode == 0, login.ToString());
        _sshConfig = await _deployment.WriteSshConfigAsync(_sshd);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _upstream.DisposeAsync();
        await _sshd.DisposeAsync();
    }

    [Fact]
    public async Task SshAndABrowserSessionCarryOnThroughTheOtherGatewayWhenOneIsKilled()
    {
        var once = Stopwatch.StartNew();
        var before = await _deployment.SshAsync(_sshConfig, "node1.jg", "true");
        var oneSsh = once.Elapsed;
        Assert.True(before.ExitCode == 0, before.ToString());
        using var browser = new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint);
        var cookie = await SignInAsync(browser);

        _deployment.Gateway!.Signal(ChildProcess.SIGKILL);
        var killed = Stopwatch.StartNew();
        await _deployment.Gateway.Exited.WaitAsync(Signals.Timeout(10));
        var attempts = 0;
        TimeSpan? firstSuccess = null;
        CommandResult? last = null;
        var back = await Signals.UntilAsync(async () =>
        {
            attempts++;
            last = await _deployment.SshAsync(_sshConfig, "node1.jg", "true");
            firstSuccess ??= last.ExitCode == 0 ? killed.Elapsed : null;
            return last.ExitCode == 0;
        }, Signals.Timeout(30), TimeSpan.FromMilliseconds(10));

        output.WriteLine($"ssh node1.jg true worked again {firstSuccess?.TotalMilliseconds:0} ms after the SIGKILL, on attempt {attempts} (one ssh before the kill took {oneSsh.TotalMilliseconds:0} ms)");
        Assert.True(back, $"ssh did not work through the second gateway within 30 s of the first one's SIGKILL: {last}");
        Assert.False(_agent.Exited.IsCompleted, "the agent exited");

        // The session made on the dead gateway, presented to the other (a load balancer or DNS round robin in front moves the browser there).
        using var moved = new GatewayBrowser(_secondUrl, _deployment.Fingerprint);
        moved.Cookies.Add(moved.ServiceUri(Web), new Cookie("__Host-jumpgate", cookie, "/") { Secure = true, HttpOnly = true });
        using var onSecond = await moved.Client.GetAsync(moved.ServiceUri(Web, "/headers?on-the-second-gateway"));
        Assert.Equal(HttpStatusCode.OK, onSecond.StatusCode);
        Assert.True(_upstream.SawRequest("on-the-second-gateway"), "the request with the first gateway's session did not reach the service");
    }

    [Fact]
    public async Task ASignInCodeFromOneGatewaySignsInOnTheOtherOnce()
    {
        // `jumpgate open` asks one gateway (the first of the login, unless it was slow to answer on a
        // loaded machine); a balancer in front sends the click to the other.
        var link = await _deployment.OpenLinkAsync("node1", "web", "/headers?code-from-one-gateway");
        var other = link.Port == new Uri(_deployment.GatewayUrl).Port ? _secondUrl : _deployment.GatewayUrl;
        Assert.NotEqual(new Uri(other).Port, link.Port);
        using var browser = new GatewayBrowser(other, _deployment.Fingerprint);
        var (response, visited) = await browser.FollowAsync(On(other, link));
        using (response)
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode} after {string.Join(" -> ", visited)}");
        }
        Assert.True(_upstream.SawRequest("code-from-one-gateway"), "the signed-in request did not reach the service");
        Assert.NotNull(browser.Cookies.GetCookies(browser.ServiceUri(Web))["__Host-jumpgate"]);

        // The same link again, in another browser, on either gateway: sent to sign in, with no session.
        foreach (var gateway in new[] { _secondUrl, _deployment.GatewayUrl })
        {
            using var replaying = new GatewayBrowser(gateway, _deployment.Fingerprint);
            using var again = await replaying.Client.GetAsync(On(gateway, link));
            Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
            Assert.Contains("/signin?to=", again.Headers.Location?.ToString(), StringComparison.Ordinal);
            Assert.Empty(replaying.Cookies.GetCookies(replaying.ServiceUri(Web)));
        }
    }

    /// <summary>A link of one gateway as another gateway's port serves it (both serve one domain).</summary>
    private static Uri On(string gatewayUrl, Uri link) => new UriBuilder(link) { Port = new Uri(gatewayUrl).Port }.Uri;

    /// <summary>Signs in on the first gateway with the one-time link `jumpgate open` prints; returns the service's session cookie.</summary>
    private async Task<string> SignInAsync(GatewayBrowser browser)
    {
        var link = await _deployment.OpenLinkAsync("node1", "web", "/headers?signed-in");
        var (response, _) = await browser.FollowAsync(link);
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        return browser.Cookies.GetCookies(browser.ServiceUri(Web))["__Host-jumpgate"]?.Value
            ?? throw new InvalidOperationException("no session cookie after the sign-in");
    }
}
