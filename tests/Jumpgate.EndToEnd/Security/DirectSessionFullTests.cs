using System.Net;
using System.Net.Sockets;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// A direct session holds at most the gateway's per-connection limit of streams (`trunks.max_streams`);
/// `forward` carries the connections past it on paths of their own instead of refusing them.
/// </summary>
public sealed class DirectSessionFullTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output, """
        trunks:
          max_streams: 3
        """);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task ConnectionsPastAFullSessionAreCarriedOnPathsOfTheirOwn()
    {
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0", "-v"], output, _fixture.Deployment.ClientEnvironment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo", Signals.Timeout(30))).Groups[1].Value);
        var clients = new List<TcpClient>();
        try
        {
            // Three in the session, and two on legs of their own, which count on forward's trunk connection
            // as the session itself does: five held open at once, where one session alone holds three.
            for (var i = 0; i < 5; i++)
            {
                var client = new TcpClient();
                clients.Add(client);
                await client.ConnectAsync(bound);
                var hello = System.Text.Encoding.ASCII.GetBytes($"hello {i}");
                Assert.Equal(hello, await EchoServer.RoundTripAsync(client.GetStream(), hello, Signals.Timeout(15)));
            }
            await forward.WaitForLineAsync("the direct session is full \\(3 streams, the gateway's limit for one\\)", Signals.Timeout(15));
            for (var i = 0; i < clients.Count; i++)
            {
                var again = System.Text.Encoding.ASCII.GetBytes($"again {i}");
                Assert.Equal(again, await EchoServer.RoundTripAsync(clients[i].GetStream(), again, Signals.Timeout(15)));
            }
            Assert.DoesNotContain(forward.Lines, line => line.Contains("too many streams", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }
}
