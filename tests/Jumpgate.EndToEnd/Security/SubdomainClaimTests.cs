using System.Net;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// A service's own subdomain belongs to its host: an agent allowed other hosts cannot declare it
/// for its service and answer the real service's users (issue 22, item 2).
/// </summary>
public sealed class SubdomainClaimTests(ITestOutputHelper output) : IAsyncLifetime
{
    private Deployment _deployment = null!;
    private HttpUpstream _node1 = null!;
    private HttpUpstream _rogue = null!;
    private HttpUpstream _replica = null!;

    public async Task InitializeAsync()
    {
        _node1 = await HttpUpstream.StartAsync();
        _rogue = await HttpUpstream.StartAsync();
        _replica = await HttpUpstream.StartAsync();
        _deployment = await Deployment.StartAsync(output);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        await _node1.DisposeAsync();
        await _rogue.DisposeAsync();
        await _replica.DisposeAsync();
    }

    [Fact]
    public async Task AnAgentCannotTakeAnotherHostsSubdomainWhileAReplicaSharesIt()
    {
        // The admin allots `tensorboard` to lab-a through its host patterns.
        await _deployment.AddAgentAsync("lab-a", "node*,tensorboard");
        await _deployment.StartAgentAsync("lab-a", Hosts("node1", _node1.Port));
        // "evil" sorts before "lab-a": the name order that used to hand it the label.
        await _deployment.AddAgentAsync("evil", "evil*");
        var rogue = await _deployment.StartAgentAsync("evil", Hosts("evil1", _rogue.Port));

        await rogue.WaitForLineAsync("the gateway refused a host: service tensorboard on evil1 is served on tensorboard--evil1 only: subdomain tensorboard is not allotted to agent evil", Signals.Timeout(30));
        var refusal = Assert.Single(await AuditUntilAsync(e => e.GetProperty("outcome").GetString() == "subdomain_refused"));
        Assert.Equal("evil", refusal.GetProperty("agent").GetString());
        Assert.Equal("evil1", refusal.GetProperty("host").GetString());
        Assert.Contains("subdomain tensorboard is not allotted to agent evil", refusal.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // A user opening node1's TensorBoard reaches node1's service, never the rogue's.
        Assert.Equal("tensorboard.localhost", await OpenInNewBrowserAsync("node1", "tensorboard", "/headers?node1-tensorboard"));
        Assert.True(_node1.SawRequest("node1-tensorboard"), "node1's TensorBoard did not get the request for its subdomain");
        Assert.False(_rogue.SawRequest("node1-tensorboard"), "the rogue agent's service answered node1's subdomain");

        // The rogue's service is still served, on its own service--host label.
        Assert.Equal("tensorboard--evil1.localhost", await OpenInNewBrowserAsync("evil1", "tensorboard", "/headers?evil1-tensorboard"));
        Assert.True(_rogue.SawRequest("evil1-tensorboard"));

        // A replica of node1's TensorBoard (another agent, same host and service) shares the label
        // without having it allotted: with lab-a gone, the subdomain reaches the replica.
        await _deployment.AddAgentAsync("lab-b", "node1");
        var replica = await _deployment.StartAgentAsync("lab-b", Hosts("node1", _replica.Port));
        var labA = _deployment.Agent("lab-a");
        labA.Signal(ChildProcess.SIGTERM);
        await labA.Exited.WaitAsync(Signals.Timeout(30));
        Assert.Equal("tensorboard.localhost", await OpenInNewBrowserAsync("node1", "tensorboard", "/headers?replica-tensorboard"));
        Assert.True(_replica.SawRequest("replica-tensorboard"), "the replica did not get the request for its host's subdomain");
        Assert.False(_rogue.SawRequest("replica-tensorboard"));
        Assert.DoesNotContain("the gateway refused", replica.Output, StringComparison.Ordinal);
        Assert.Single(await AuditAsync(), e => e.GetProperty("outcome").GetString() == "subdomain_refused");
    }

    private static string Hosts(string host, int port) => $"""
        {host}:
          address: 127.0.0.1
          services:
            tensorboard: {"{"} port: {port}, http: true, subdomain: tensorboard {"}"}
        """;

    /// <summary>The audit events that match, once there are any (the audit is written in the background).</summary>
    private async Task<List<JsonElement>> AuditUntilAsync(Func<JsonElement, bool> match)
    {
        var deadline = DateTime.UtcNow + Signals.Timeout(30);
        while (true)
        {
            var found = (await AuditAsync()).Where(match).ToList();
            if (found.Count > 0 || DateTime.UtcNow > deadline)
            {
                return found;
            }
        }
    }

    private async Task<List<JsonElement>> AuditAsync()
    {
        var audit = await _deployment.JumpgateAsync("gateway", "audit", "--json", "--dir", _deployment.GatewayDir);
        Assert.Equal(0, audit.ExitCode);
        return [.. audit.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement)];
    }

    /// <summary>Follows a one-time link for <paramref name="host"/>'s <paramref name="service"/> in a fresh browser; asserts it was answered and returns the subdomain it went to.</summary>
    private async Task<string> OpenInNewBrowserAsync(string host, string service, string path)
    {
        using var browser = new GatewayBrowser(_deployment.GatewayUrl, _deployment.Fingerprint);
        var link = await _deployment.OpenLinkAsync(host, service, path);
        var (response, _) = await browser.FollowAsync(link);
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        return link.Host;
    }
}
