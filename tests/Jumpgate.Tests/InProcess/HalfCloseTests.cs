using System.Net.Sockets;
using System.Security.Cryptography;
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
public sealed class HalfCloseTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int UserSends = 3_000;
    private const int ServiceSends = 70_000;

    private readonly TaskCompletionSource<byte[]> _serviceReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _servicePayload = RandomNumberGenerator.GetBytes(ServiceSends);
    private GatewayInProcess _gateway = null!;
    private ScriptedService _service = null!;
    private AgentInProcess _agent = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayInProcess.StartAsync(output);
        _service = new ScriptedService(async (socket, cancellationToken) =>
        {
            // "request" answers once the user has sent everything; "speak" talks first and then only listens.
            var mode = new byte[1];
            await socket.ReceiveAsync(mode, cancellationToken);
            if (mode[0] == (byte)'r')
            {
                _serviceReceived.TrySetResult(await ScriptedService.ReceiveToEndAsync(socket, cancellationToken));
                await socket.SendAsync(_servicePayload, cancellationToken);
                socket.Shutdown(SocketShutdown.Send);
                return;
            }
            await socket.SendAsync(_servicePayload, cancellationToken);
            socket.Shutdown(SocketShutdown.Send);
            _serviceReceived.TrySetResult(await ScriptedService.ReceiveToEndAsync(socket, cancellationToken));
        });
        _agent = await AgentInProcess.StartAsync(_gateway, output, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["svc"] = _service.Port },
        });
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _service.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AUserDoneSendingStillReceivesTheServicesAnswer(UserPath path)
    {
        var request = RandomNumberGenerator.GetBytes(UserSends);
        await using (var user = await UserStream.OpenAsync(_gateway, path, "node1", "svc"))
        {
            await user.WriteAsync([(byte)'r', .. request]);
            await user.EndSendingAsync();

            Assert.Equal(_servicePayload, await user.ReadToEndAsync());
        }
        Assert.Equal(request, await _serviceReceived.Task.WaitAsync(Signals.Timeout(10)));
        Assert.Empty(_service.Failures);
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task AServiceDoneSendingStillReceivesWhatTheUserSends(UserPath path)
    {
        var late = RandomNumberGenerator.GetBytes(UserSends);
        await using (var user = await UserStream.OpenAsync(_gateway, path, "node1", "svc"))
        {
            await user.WriteAsync("s"u8.ToArray());
            Assert.Equal(_servicePayload, await user.ReadToEndAsync());

            // The service has ended its side; the user's side is still open and goes on.
            await user.WriteAsync(late);
            await user.EndSendingAsync();
            Assert.Equal(late, await _serviceReceived.Task.WaitAsync(Signals.Timeout(10)));
        }
        Assert.Empty(_service.Failures);
    }

    [Theory]
    [InlineData(UserPath.Connect)]
    [InlineData(UserPath.Trunk)]
    public async Task TheAuditCountsEachDirectionByRole(UserPath path)
    {
        await using (var user = await UserStream.OpenAsync(_gateway, path, "node1", "svc"))
        {
            await user.WriteAsync([(byte)'r', .. RandomNumberGenerator.GetBytes(UserSends - 1)]);
            await user.EndSendingAsync();
            Assert.Equal(ServiceSends, (await user.ReadToEndAsync()).Length);
        }

        var closed = await _gateway.WaitForAuditAsync(e => e.Outcome == "closed");

        // bytes_up: user → service; bytes_down: service → user.
        Assert.Equal<(long?, long?)>((UserSends, ServiceSends), (closed.BytesUp, closed.BytesDown));
        Assert.Equal(("researcher", "node1", "svc", "lab-a", "closed by both ends"), (closed.User, closed.Host, closed.Service, closed.Agent, closed.Reason));
    }
}
