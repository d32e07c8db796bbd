using System.Net;
using System.Net.Sockets;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A plain TCP relay on a loopback port in front of the gateway, whose connections a test can cut
/// the way a dying link or a crashed middlebox does: both sides reset at once, nothing said first.
/// The bytes pass untouched (TLS runs end to end through it).
/// </summary>
internal sealed class CuttableRelay : IAsyncDisposable
{
    private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(Socket Client, Socket Server, Task Relay)> _connections = [];
    private readonly Task _accepting;

    public CuttableRelay(int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        _accepting = AcceptAsync();
    }

    public Uri Url => new($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}");

    /// <summary>How many connections came through so far, in the order they arrived.</summary>
    public int Count
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Resets connections <paramref name="from"/> onwards (in arrival order), both sides.</summary>
    public void Cut(int from)
    {
        lock (_connections)
        {
            foreach (var (client, server, _) in _connections.Skip(from))
            {
                Reset(client);
                Reset(server);
            }
        }
    }

    /// <summary>Resets connection <paramref name="index"/> alone (in arrival order), both sides; the others stay up.</summary>
    public void CutOnly(int index)
    {
        lock (_connections)
        {
            var (client, server, _) = _connections[index];
            Reset(client);
            Reset(server);
        }
    }

    private static void Reset(Socket socket)
    {
        try
        {
            // Linger 0: close sends a reset, as a connection that died does, not a polite FIN.
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Gone already.
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                client.NoDelay = true;
                await server.ConnectAsync(_target, _stop.Token);
                lock (_connections)
                {
                    _connections.Add((client, server, RelayAsync(client, server)));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task RelayAsync(Socket client, Socket server)
    {
        await using var fromClient = new NetworkStream(client, ownsSocket: true);
        await using var fromServer = new NetworkStream(server, ownsSocket: true);
        await Task.WhenAll(CopyAsync(fromClient, fromServer), CopyAsync(fromServer, fromClient));
    }

    /// <summary>One direction; its end is passed on as a half-close, its failure as a reset of the other side.</summary>
    private async Task CopyAsync(NetworkStream source, NetworkStream destination)
    {
        try
        {
            await source.CopyToAsync(destination, _stop.Token);
            destination.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Reset(destination.Socket);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        Cut(0);
        Task[] relays;
        lock (_connections)
        {
            relays = [.. _connections.Select(c => c.Relay)];
        }
        await Task.WhenAll(relays);
    }
}
