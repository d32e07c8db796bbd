using System.Net.Sockets;
using System.Security.Cryptography;
using Jumpgate.Agent.Configuration;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A stream ends one direction at a time, through gateway and agent, as a TCP connection does:
/// a user that is done sending still receives the rest, and a service that is done sending still
/// receives what the user sends. The audit then counts each direction by role: bytes_up is what
/// the user sent to the service, bytes_down what the service sent to the user.
/// </summary>
public sealed class HalfCloseTests : IClassFixture<HalfCloseTests.Lab>
{
    private const int UserSends = 3_000;
    private const int ServiceSends = 70_000;

    private readonly Lab _lab;

    public HalfCloseTests(Lab lab, ITestOutputHelper output)
    {
        _lab = lab;
        lab.Gateway.Output.Current = output;
        lab.Received = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// One gateway for the class; lab-a serves node1's svc, a service whose first byte picks its
    /// script: 'r' answers once the user has sent everything, 's' speaks first and then only listens.
    /// What it received goes to <see cref="Received"/> (the tests run one at a time).
    /// </summary>
    public sealed class Lab : IAsyncLifetime
    {
        public Lab()
        {
            Service = new ScriptedService(async (socket, cancellationToken) =>
            {
                var mode = new byte[1];
                await socket.ReceiveAsync(mode, cancellationToken);
                if (mode[0] == (byte)'r')
                {
                    Received.TrySetResult(await ScriptedService.ReceiveToEndAsync(socket, cancellationToken));
                    await socket.SendAsync(Payload, cancellationToken);
                    socket.Shutdown(SocketShutdown.Send);
                    return;
                }
                await socket.SendAsync(Payload, cancellationToken);
                socket.Shutdown(SocketShutdown.Send);
                Received.TrySetResult(await ScriptedService.ReceiveToEndAsync(socket, cancellationToken));
            });
        }

        internal GatewayInProcess Gateway { get; private set; } = null!;
        internal ScriptedService Service { get; }
        internal AgentInProcess Agent { get; private set; } = null!;
        internal byte[] Payload { get; } = RandomNumberGenerator.GetBytes(ServiceSends);
        internal TaskCompletionSource<byte[]> Received { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task InitializeAsync()
        {
            Gateway = await GatewayInProcess.StartAsync(null);
            Agent = await AgentInProcess.StartAsync(Gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
            {
                ["node1"] = new Dictionary<string, int> { ["svc"] = Service.Port },
            },
            // Unchecked: a health check's bare connect would run the script and hand Received an empty request.
            health: HealthCheck.Off);
        }

        public async Task DisposeAsync()
        {
            await Agent.DisposeAsync();
            await Service.DisposeAsync();
            await Gateway.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AUserDoneSendingStillReceivesTheServicesAnswer(UserPath path)
    {
        var request = RandomNumberGenerator.GetBytes(UserSends);
        await using (var user = await UserStream.OpenAsync(_lab.Gateway, path, "node1", "svc"))
        {
            await user.WriteAsync([(byte)'r', .. request]);
            await user.EndSendingAsync();

            Assert.Equal(_lab.Payload, await user.ReadToEndAsync());
        }
        Assert.Equal(request, await _lab.Received.Task.WaitAsync(Signals.Timeout(10)));
        Assert.Empty(_lab.Service.Failures);
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AServiceDoneSendingStillReceivesWhatTheUserSends(UserPath path)
    {
        var late = RandomNumberGenerator.GetBytes(UserSends);
        await using (var user = await UserStream.OpenAsync(_lab.Gateway, path, "node1", "svc"))
        {
            await user.WriteAsync("s"u8.ToArray());
            Assert.Equal(_lab.Payload, await user.ReadToEndAsync());

            // The service has ended its side; the user's side is still open and goes on.
            await user.WriteAsync(late);
            await user.EndSendingAsync();
            Assert.Equal(late, await _lab.Received.Task.WaitAsync(Signals.Timeout(10)));
        }
        Assert.Empty(_lab.Service.Failures);
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task TheAuditCountsEachDirectionByRole(UserPath path)
    {
        // A user of its own, so this stream's event is the only one under that name.
        var name = $"counted-{path.ToString().ToLowerInvariant()}";
        var token = await _lab.Gateway.AddUserAsync(name);
        await using (var user = await UserStream.OpenAsync(_lab.Gateway, path, "node1", "svc", token))
        {
            await user.WriteAsync([(byte)'r', .. RandomNumberGenerator.GetBytes(UserSends - 1)]);
            await user.EndSendingAsync();
            Assert.Equal(ServiceSends, (await user.ReadToEndAsync()).Length);
        }

        var closed = await _lab.Gateway.WaitForAuditAsync(e => e.User == name && e.Outcome == "closed");

        // bytes_up: user → service; bytes_down: service → user.
        Assert.Equal<(long?, long?)>((UserSends, ServiceSends), (closed.BytesUp, closed.BytesDown));
        Assert.Equal(("node1", "svc", "lab-a", "closed by both ends"), (closed.Host, closed.Service, closed.Agent, closed.Reason));
    }
}
