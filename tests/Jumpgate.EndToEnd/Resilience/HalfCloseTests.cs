using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>
/// A service that ends its side at once while the user is still sending, as a server that
/// answers an upload early does: the gateway passes the service's end to the user as a
/// close_notify while it is still decrypting the user's bytes. Round after round, through the
/// real gateway and agent, every byte the user sent must reach the service and the gateway must
/// live on. Bounded in count (<see cref="Rounds"/>) and time (<see cref="Budget"/>).
/// </summary>
public sealed class HalfCloseTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Rounds = 1200;

    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);

    private readonly Socket _service = new(SocketType.Stream, ProtocolType.Tcp);

    /// <summary>What the service read from each connection, in order.</summary>
    private readonly Channel<byte[]> _received = Channel.CreateUnbounded<byte[]>();

    private Deployment _deployment = null!;

    private Task _serving = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _service.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _service.Listen(64);
        _serving = ServeAsync();
        _deployment = await Deployment.StartAsync(output);
        await _deployment.AddAgentAsync("lab-a", "node1");
        await _deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                upload:
                  port: {((IPEndPoint)_service.LocalEndPoint!).Port}
                  # unchecked: a health check's bare connect would be read as a round that received nothing
                  health: off
            """);
    }

    public async Task DisposeAsync()
    {
        await _deployment.DisposeAsync();
        _service.Dispose();
        await _serving;
    }

    [Fact]
    public async Task AServiceThatEndsFirstStillGetsEveryByteTheUserSent()
    {
        var payload = RandomNumberGenerator.GetBytes(128 * 1024);
        var budget = Stopwatch.StartNew();
        var done = 0;
        for (; done < Rounds && budget.Elapsed < Budget; done++)
        {
            await using var tunnel = await TunnelClient.ConnectAsync(_deployment.GatewayUrl, _deployment.UserToken, "node1", "upload", Signals.Timeout(30));
            Assert.True(tunnel.Ok, $"round {done}: {tunnel.Error}");
            var sending = Task.Run(async () =>
            {
                for (var at = 0; at < payload.Length; at += 16 * 1024)
                {
                    await tunnel.Stream.WriteAsync(payload.AsMemory(at, 16 * 1024));
                }
            });
            // The service's end arrives first; only then does this end pass on its own, so the two never overlap here.
            Assert.True(await tunnel.WaitClosedAsync(Signals.Timeout(20)), $"round {done}: the service's end never reached the user");
            await sending.WaitAsync(Signals.Timeout(20));
            await tunnel.Stream.ShutdownAsync();

            using var deadline = new CancellationTokenSource(Signals.Timeout(20));
            var received = await _received.Reader.ReadAsync(deadline.Token);
            Assert.True(payload.AsSpan().SequenceEqual(received), $"round {done}: the service got {received.Length} of {payload.Length} bytes, or not intact");
        }
        output.WriteLine($"{done} rounds in {budget.Elapsed.TotalSeconds:0.0} s");
        Assert.True(done >= 100, $"only {done} rounds ran within {Budget.TotalSeconds} s");
        Assert.False(_deployment.Gateway!.Exited.IsCompleted, $"the gateway died:\n{_deployment.Gateway.Output}");
    }

    /// <summary>Each connection: end the service's side at once, then read everything the user sends.</summary>
    private async Task ServeAsync()
    {
        try
        {
            while (true)
            {
                var connection = await _service.AcceptAsync();
                _ = Task.Run(async () =>
                {
                    using var _ = connection;
                    connection.Shutdown(SocketShutdown.Send);
                    using var got = new MemoryStream();
                    var buffer = new byte[64 * 1024];
                    int read;
                    while ((read = await connection.ReceiveAsync(buffer)) > 0 && got.Length < 1024 * 1024)
                    {
                        got.Write(buffer, 0, read);
                    }
                    await _received.Writer.WriteAsync(got.ToArray());
                });
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The test is over.
        }
    }
}
