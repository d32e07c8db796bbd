using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// The CLI given several gateways (as `jumpgate login URL URL` saves them): it passes over one
/// that is gone (a refused connect) and one that takes the connection and never answers TLS (a
/// hung machine), and reaches the next; a refusal from a gateway that answered is final.
/// </summary>
public sealed class GatewayChoiceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private GatewayInProcess _gateway = null!;
    private ScriptedService _service = null!;
    private AgentInProcess _agent = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayInProcess.StartAsync(output);
        _service = ScriptedService.Echo();
        _agent = await AgentInProcess.StartAsync(_gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["echo"] = _service.Port },
        });
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _service.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task PassesOverAGatewayThatIsGoneAndOneThatNeverAnswers()
    {
        // Gone: a port nothing listens on. Silent: a listener whose backlog takes the connection and that never reads it.
        var gone = _gateway.Endpoint with { Address = new Uri($"https://127.0.0.1:{Sshd.FreePort()}") };
        using var silent = new Socket(SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(8);
        var hung = _gateway.Endpoint with { Address = new Uri($"https://127.0.0.1:{((IPEndPoint)silent.LocalEndPoint!).Port}") };
        var hello = new Hello { Type = HelloType.Connect, Token = _gateway.UserToken, Host = "node1", Service = "echo" };

        var opened = Stopwatch.StartNew();
        var (stream, _, through) = await GatewayDialer.HandshakeAsync([gone, hung, _gateway.Endpoint], hello, CancellationToken.None);
        output.WriteLine($"opened through {through} after {opened.Elapsed.TotalMilliseconds:0} ms (a refused connect, then the patience of {GatewayDialer.Patience.TotalSeconds} s)");

        Assert.Equal(_gateway.Endpoint, through);
        await using (stream)
        {
            await stream.WriteAsync(new byte[] { 7 });
            var one = new byte[1];
            await stream.ReadExactlyAsync(one);
            Assert.Equal(7, one[0]);
        }
        using var api = new GatewayApi([gone, _gateway.Endpoint], _gateway.UserToken);
        Assert.Equal("researcher", (await api.WhoAmIAsync(CancellationToken.None)).User);
    }

    [Fact]
    public async Task TheApiPassesOverAGatewayThatTakesTheConnectionAndNeverAnswersTls()
    {
        await using var silent = SilentGateway.Start(_gateway.Endpoint);
        using var api = new GatewayApi([silent.Endpoint, _gateway.Endpoint], _gateway.UserToken);

        var asked = Stopwatch.StartNew();
        var whoami = await api.WhoAmIAsync(CancellationToken.None);
        output.WriteLine($"answered through {api.Gateway} after {asked.Elapsed.TotalMilliseconds:0} ms (the silent gateway's patience is {GatewayDialer.Patience.TotalSeconds} s)");

        Assert.Equal("researcher", whoami.User);
        Assert.Equal(_gateway.Endpoint, api.Gateway);
        Assert.True(silent.Accepted > 0, "the silent gateway never took the connection");
        // Passed over by the patience, not by the 10 s that the last gateway's connect and handshake are given.
        Assert.True(asked.Elapsed < TimeSpan.FromSeconds(10), $"the silent gateway held the request {asked.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task TheGatewayThatAnsweredLastIsAskedFirstByTheNextCommand()
    {
        await using var silent = SilentGateway.Start(_gateway.Endpoint);
        using var config = new TempDirectory("jg-preference");
        var path = config.File("jumpgate/" + GatewayPreference.FileName);
        IReadOnlyList<GatewayEndpoint> login = [silent.Endpoint, _gateway.Endpoint];

        var first = new GatewayPreference(path, login);
        using (var api = new GatewayApi(first.Gateways, _gateway.UserToken, first.Answered))
        {
            await api.WhoAmIAsync(CancellationToken.None);
        }
        Assert.Equal(_gateway.Endpoint.ToString(), File.ReadAllText(path).Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var written = File.GetLastWriteTimeUtc(path);
        var accepted = silent.Accepted;

        var next = new GatewayPreference(path, login);
        Assert.Equal([_gateway.Endpoint, silent.Endpoint], next.Gateways);
        using (var api = new GatewayApi(next.Gateways, _gateway.UserToken, next.Answered))
        {
            await api.WhoAmIAsync(CancellationToken.None);
            await api.WhoAmIAsync(CancellationToken.None);
        }
        var (stream, _, through) = await GatewayDialer.HandshakeAsync(next.Gateways, new Hello { Type = HelloType.Connect, Token = _gateway.UserToken, Host = "node1", Service = "echo" }, CancellationToken.None);
        await stream.DisposeAsync();
        next.Answered(through);

        Assert.Equal(_gateway.Endpoint, through);
        Assert.Equal(accepted, silent.Accepted);
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public async Task ARefusalIsFinalAndNoneAnsweringNamesEachGateway()
    {
        var gone = _gateway.Endpoint with { Address = new Uri($"https://127.0.0.1:{Sshd.FreePort()}") };
        var offline = new Hello { Type = HelloType.Connect, Token = _gateway.UserToken, Host = "node9", Service = "echo" };

        var refused = await Assert.ThrowsAsync<GatewayException>(() => GatewayDialer.HandshakeAsync([_gateway.Endpoint, gone], offline, CancellationToken.None));
        var none = await Assert.ThrowsAsync<GatewayException>(() => GatewayDialer.HandshakeAsync([gone, gone with { Address = new Uri($"https://127.0.0.1:{Sshd.FreePort()}") }], offline, CancellationToken.None));

        output.WriteLine(refused.Message);
        output.WriteLine(none.Message);
        Assert.True(refused.Refused);
        Assert.Contains("node9", refused.Message, StringComparison.Ordinal);
        Assert.StartsWith("no gateway answered: ", none.Message, StringComparison.Ordinal);
        Assert.Contains(gone.ToString(), none.Message, StringComparison.Ordinal);
    }


    /// <summary>A gateway whose process hangs: a listener that accepts every connection (up to 64) and says nothing.</summary>
    private sealed class SilentGateway : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly List<TcpClient> _held = [];
        private readonly Task _accepting;

        private SilentGateway(GatewayEndpoint like)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Endpoint = like with { Address = new Uri($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}") };
            _accepting = AcceptAsync();
        }

        /// <summary>The silent listener as a gateway of the login, pinned like <c>like</c>.</summary>
        public GatewayEndpoint Endpoint { get; }

        /// <summary>Connections it has taken so far.</summary>
        public int Accepted
        {
            get
            {
                lock (_held)
                {
                    return _held.Count;
                }
            }
        }

        public static SilentGateway Start(GatewayEndpoint like) => new(like);

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _accepting;
            foreach (var client in _held)
            {
                client.Dispose();
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                for (var i = 0; i < 64; i++)
                {
                    var client = await _listener.AcceptTcpClientAsync();
                    lock (_held)
                    {
                        _held.Add(client);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Stopped by DisposeAsync.
            }
        }
    }
}
