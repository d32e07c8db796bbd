using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Jumpgate.Agent.Configuration;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Api;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// Two agents serve one host's service, each backed by a real server of its own on loopback:
/// the gateway spreads new streams over both, stops sending to one whose target died once its
/// agent's check says so (within interval × unhealthy_after), retries a stream a replica cannot
/// open on the other, and keeps a browser on one replica while that one is healthy. Health is
/// read as a user reads it, from the hosts API that `jumpgate ls --json` prints.
/// </summary>
public sealed class ReplicaTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Short, so a dead target is noticed in well under a second; the timeout fits inside it.</summary>
    private static readonly HealthCheck FastCheck = new()
    {
        Interval = TimeSpan.FromMilliseconds(250), Timeout = TimeSpan.FromMilliseconds(200), UnhealthyAfter = 3, HealthyAfter = 1,
    };

    private GatewayInProcess _gateway = null!;
    private readonly List<IAsyncDisposable> _owned = [];

    public async Task InitializeAsync() => _gateway = await GatewayInProcess.StartAsync(output);

    public async Task DisposeAsync()
    {
        // Agents before their targets and the gateway, so nothing waits for a drain.
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task ADeadTargetTurnsUnhealthyAndNewStreamsGoToTheOtherReplica(UserPath path)
    {
        var targetA = Own(Named("a"));
        var targetB = Own(Named("b"));
        await StartAgentAsync("lab-a", targetA.Port, FastCheck);
        await StartAgentAsync("lab-b", targetB.Port, FastCheck);

        // Both replicas take new streams: each is chosen at random while both carry none.
        var before = await EchoManyAsync(path, 24);
        Assert.Contains("a", before);
        Assert.Contains("b", before);

        await targetA.DisposeAsync();
        var killed = Stopwatch.StartNew();
        var noticed = await UntilReplicaAsync("lab-a", r => !r.Healthy, Signals.Timeout(15));
        var took = killed.Elapsed;
        output.WriteLine($"lab-a unhealthy {took.TotalMilliseconds:0} ms after its target stopped (interval × unhealthy_after = {(FastCheck.Interval * FastCheck.UnhealthyAfter).TotalMilliseconds:0} ms): {noticed.LastFailure}");
        // How soon is the benchmark's to judge (bench/run --only=failover, a stopped target); here it
        // is that the check notices at all, for the reason a user would read.
        Assert.Contains("refused", noticed.LastFailure, StringComparison.OrdinalIgnoreCase);

        var after = await EchoManyAsync(path, 24);
        Assert.All(after, replica => Assert.Equal("b", replica));
    }

    [Fact]
    public async Task AReplicaWhoseAgentIsGoneGetsNoNewStreamsAndTheUserSeesNoError()
    {
        var targetA = Own(Named("a"));
        var targetB = Own(Named("b"));
        var labA = await StartAgentAsync("lab-a", targetA.Port, HealthCheck.Off);
        await StartAgentAsync("lab-b", targetB.Port, HealthCheck.Off);

        // Stopped as Ctrl-C stops it; the streams below start at once, whether or not the gateway has noticed yet.
        await labA.DisposeAsync();
        var replicas = await EchoManyAsync(UserPath.Trunk, 24);

        Assert.All(replicas, replica => Assert.Equal("b", replica));
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AStreamAReplicaCannotOpenIsRetriedOnTheOtherAndTheUserSeesNoError(UserPath path)
    {
        // lab-a's target refuses every connection, and lab-a does not check it, so the gateway
        // still takes it for healthy and sends it about half of the new streams.
        var targetB = Own(Named("b"));
        await StartAgentAsync("lab-a", RefusingPort(), HealthCheck.Off);
        await StartAgentAsync("lab-b", targetB.Port, HealthCheck.Off);

        // 32 streams: the chance that none of them tried lab-a first is 2^-32.
        var replicas = await EchoManyAsync(path, 32);

        Assert.All(replicas, replica => Assert.Equal("b", replica));
    }

    [Fact]
    public async Task ABrowserStaysOnOneReplicaWhileItIsHealthyAndMovesWhenItIsDown()
    {
        var upstreams = new[] { Own(await HttpUpstream.StartAsync()), Own(await HttpUpstream.StartAsync()) };
        var check = FastCheck with { HttpPath = "/headers" };
        await StartAgentAsync("lab-a", upstreams[0].Port, check, http: true);
        await StartAgentAsync("lab-b", upstreams[1].Port, check, http: true);
        using var browser = new GatewayBrowser(_gateway.Url, _gateway.Fingerprint.ToString());
        using var api = new GatewayApi(_gateway.Endpoint, _gateway.UserToken);
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        var link = await api.OpenAsync("node1", "web", deadline.Token);
        var (landed, _) = await browser.FollowAsync(new Uri(link.SignInUrl), deadline.Token);
        landed.Dispose();

        for (var i = 0; i < 12; i++)
        {
            await GetAsync(browser, $"/headers?first={i}", deadline.Token);
        }
        var pinned = Array.FindIndex(upstreams, u => u.SawRequest("first=0"));
        var other = 1 - pinned;
        Assert.Equal(12, upstreams[pinned].Requests.Count(r => r.PathAndQuery.Contains("first=", StringComparison.Ordinal)));
        Assert.DoesNotContain(upstreams[other].Requests, r => r.PathAndQuery.Contains("first=", StringComparison.Ordinal));

        await upstreams[pinned].DisposeAsync();
        await UntilReplicaAsync(pinned == 0 ? "lab-a" : "lab-b", r => !r.Healthy, Signals.Timeout(15));
        for (var i = 0; i < 12; i++)
        {
            await GetAsync(browser, $"/headers?then={i}", deadline.Token);
        }
        Assert.Equal(12, upstreams[other].Requests.Count(r => r.PathAndQuery.Contains("then=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task TheHostsApiListsEachReplicaWithItsHealthAndOpenStreams()
    {
        var targetA = Own(Named("a"));
        await StartAgentAsync("lab-a", targetA.Port, FastCheck);
        await StartAgentAsync("lab-b", RefusingPort(), FastCheck);

        var down = await UntilReplicaAsync("lab-b", r => !r.Healthy, Signals.Timeout(15));
        await using var open = await UserStream.OpenAsync(_gateway, UserPath.Connect, "node1", "echo");
        var up = await UntilReplicaAsync("lab-a", r => r.OpenStreams == 1, Signals.Timeout(15));

        Assert.True(up.Healthy);
        Assert.Null(up.LastFailure);
        Assert.False(down.Healthy);
        Assert.Equal(0, down.OpenStreams);
        Assert.Contains("127.0.0.1:", down.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithEveryReplicaUnhealthyTheUserReadsEachAgentsReason()
    {
        await StartAgentAsync("lab-a", RefusingPort(), FastCheck);
        await StartAgentAsync("lab-b", RefusingPort(), FastCheck);
        await UntilReplicaAsync("lab-a", r => !r.Healthy, Signals.Timeout(15));
        await UntilReplicaAsync("lab-b", r => !r.Healthy, Signals.Timeout(15));

        var refused = await Assert.ThrowsAsync<Core.Protocol.GatewayException>(async () => await UserStream.OpenAsync(_gateway, UserPath.Connect, "node1", "echo"));

        Assert.StartsWith("node1:echo is down: agent lab-a's health check fails (127.0.0.1:", refused.Message, StringComparison.Ordinal);
        Assert.Contains("agent lab-b's health check fails", refused.Message, StringComparison.Ordinal);
    }

    private T Own<T>(T owned) where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    private async Task<AgentInProcess> StartAgentAsync(string name, int port, HealthCheck health, bool http = false)
    {
        var service = http ? "web" : "echo";
        var agent = Own(await AgentInProcess.StartAsync(_gateway, name, new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { [service] = port },
        }, http: http ? new HashSet<string> { service } : null, health: health));
        // The host is reachable as soon as one replica registered: wait for this one to be listed.
        await UntilReplicaAsync(name, _ => true, Signals.Timeout(15));
        return agent;
    }

    /// <summary>An echo that says which replica it is: each reply is prefixed with its name and a colon.</summary>
    private static ScriptedService Named(string name) => new(async (socket, cancellationToken) =>
    {
        var buffer = new byte[1024];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, cancellationToken)) > 0)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes($"{name}:{Encoding.ASCII.GetString(buffer, 0, read)}"), cancellationToken);
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // A health check's connect closes at once; a cut stream resets.
        }
    });

    /// <summary>A loopback port nothing listens on: bound, then closed, so a connect to it is refused.</summary>
    private static int RefusingPort()
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Opens <paramref name="count"/> streams one after another, each closed before the next; returns which replica answered each.</summary>
    private async Task<List<string>> EchoManyAsync(UserPath path, int count)
    {
        var replicas = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            await using var stream = await UserStream.OpenAsync(_gateway, path, "node1", "echo");
            var ping = $"ping{i}";
            await stream.Stream.WriteAsync(Encoding.ASCII.GetBytes(ping));
            var answer = await ReadUntilAsync(stream.Stream, ping);
            replicas.Add(answer[..answer.IndexOf(':', StringComparison.Ordinal)]);
        }
        output.WriteLine($"replicas: {string.Join("", replicas)}");
        return replicas;
    }

    private static async Task<string> ReadUntilAsync(Stream stream, string ending)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        var text = new StringBuilder();
        var buffer = new byte[256];
        while (!text.ToString().EndsWith(ending, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, deadline.Token);
            Assert.True(read > 0, $"the stream ended after '{text}'");
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        return text.ToString();
    }

    private static async Task GetAsync(GatewayBrowser browser, string pathAndQuery, CancellationToken cancellationToken)
    {
        using var response = await browser.Client.GetAsync(browser.ServiceUri("web--node1", pathAndQuery), cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Polls the hosts API (what `jumpgate ls --json` prints) until node1's replica by <paramref name="agent"/> matches.</summary>
    private async Task<ReplicaListing> UntilReplicaAsync(string agent, Func<ReplicaListing, bool> condition, TimeSpan timeout)
    {
        using var api = new GatewayApi(_gateway.Endpoint, _gateway.UserToken);
        ReplicaListing? found = null;
        var matched = await Signals.UntilAsync(async () =>
        {
            var hosts = await api.HostsAsync(CancellationToken.None);
            found = hosts.Single(h => h.Name == "node1").Replicas.SingleOrDefault(r => r.Agent == agent);
            return found is not null && condition(found);
        }, timeout, TimeSpan.FromMilliseconds(20));
        Assert.True(matched, $"replica {agent} is {found}");
        return found!;
    }
}
