using System.Net;
using System.Net.Sockets;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A real TCP service on a loopback port that runs <c>script</c> on each connection it accepts, so a
/// test decides exactly when the service sends, reads and half-closes. The script's failures are
/// kept in <see cref="Failures"/>: a test that expects a clean stream checks there is none.
/// </summary>
internal sealed class ScriptedService : IAsyncDisposable
{
    private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly Func<Socket, CancellationToken, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;

    public ScriptedService(Func<Socket, CancellationToken, Task> script)
    {
        _script = script;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public List<Exception> Failures { get; } = [];

    /// <summary>Echoes until the client ends its side, then ends its own.</summary>
    public static ScriptedService Echo() => new(async (socket, cancellationToken) =>
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, cancellationToken)) > 0)
            {
                await socket.SendAsync(buffer.AsMemory(0, read), cancellationToken);
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Reset: a stream that was cut or abandoned ends the service's connection this way.
        }
    });

    /// <summary>Reads until the client ends its side and returns everything it sent.</summary>
    public static async Task<byte[]> ReceiveToEndAsync(Socket socket, CancellationToken cancellationToken)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, cancellationToken)) > 0)
        {
            received.Write(buffer, 0, read);
        }
        return received.ToArray();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                lock (_connections)
                {
                    _connections.Add(RunAsync(socket));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task RunAsync(Socket socket)
    {
        using var _ = socket;
        try
        {
            await _script(socket, _stop.Token);
        }
        catch (Exception e)
        {
            lock (Failures)
            {
                Failures.Add(e);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }
        await Task.WhenAll(connections);
    }
}
