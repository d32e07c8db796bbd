using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Tunnel;

namespace Jumpgate.Gateway.Expose;

/// <summary>
/// One exposed port: a TCP listener whose connections from an allowed source become streams
/// through <see cref="StreamBroker"/>, and whose others are closed before anything is sent on.
/// A socket of its own rather than a Kestrel endpoint: Kestrel's endpoints are fixed when it
/// starts, and these come and go with the store.
/// </summary>
internal sealed class ExposedListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly StreamBroker _broker;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly Task _accepting;

    private ExposedListener(Exposure exposure, Socket socket, StreamBroker broker)
    {
        Exposure = exposure;
        _socket = socket;
        _broker = broker;
        _accepting = AcceptAsync(_stop.Token);
    }

    public Exposure Exposure { get; }

    public EndPoint? Address => _socket.LocalEndPoint;

    /// <summary>Binds <paramref name="exposure"/>'s port on <paramref name="address"/>; throws <see cref="SocketException"/> when the port cannot be bound.</summary>
    public static ExposedListener Open(Exposure exposure, IPAddress address, StreamBroker broker)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, exposure.Port));
            socket.Listen(128);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ExposedListener(exposure, socket, broker);
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // The listener was closed (unexpose, or the gateway stopping).
                return;
            }
            // Listed before it runs, so that its own removal when it ends always comes after.
            var listed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[client] = ServeAsync(client, listed.Task, cancellationToken);
            listed.SetResult();
        }
    }

    private async Task ServeAsync(Socket client, Task listed, CancellationToken cancellationToken)
    {
        await listed;
        var remote = client.RemoteEndPoint as IPEndPoint;
        try
        {
            if (remote is null || !Exposure.Allows(remote.Address))
            {
                // Closed before any byte is read or anything is opened toward the service.
                _broker.RefuseExposed(Exposure, remote?.ToString(),
                    $"{remote?.Address} is not in the allow list of {Exposure.User} ({string.Join(", ", Exposure.Allow)})");
                client.Close(0);
                return;
            }
            client.NoDelay = true;
            var stream = new SocketStream(client);
            await using (stream)
            {
                var connection = new TunnelConnection(stream, remote.ToString(), cancellationToken, CancellationToken.None, () => client.Close(0), framed: false);
                await _broker.RunExposedAsync(connection, Exposure);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away; the broker has recorded whatever the stream got to.
        }
        finally
        {
            client.Dispose();
            _connections.TryRemove(client, out _);
        }
    }

    /// <summary>Stops accepting; with <paramref name="endConnections"/> (the gateway stopping) also ends the streams it carries, else they run on under the rules.</summary>
    public async Task CloseAsync(bool endConnections)
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _accepting;
        if (endConnections)
        {
            foreach (var (client, _) in _connections)
            {
                client.Close(0);
            }
            await Task.WhenAll(_connections.Values);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync(endConnections: true);
        _stop.Dispose();
    }
}
