using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Jumpgate.TestSupport;

/// <summary>A TCP echo server on a loopback port: the simplest real service behind an agent.</summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _accepted;
    private long _received;
    private long _sent;

    public EchoServer(string address = "127.0.0.1")
    {
        _listener.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        _listener.Listen(1024);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>How many connections reached the server: tests check that refused streams never got here.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Bytes read from clients and bytes echoed back: equal whenever nothing is on its way through the server.</summary>
    public (long Received, long Sent) Bytes => (Interlocked.Read(ref _received), Interlocked.Read(ref _sent));

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                _ = EchoAsync(client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task EchoAsync(Socket client)
    {
        using var _ = client;
        try
        {
            while (true)
            {
                // Wait with no buffer, and take one only while bytes move: load tests hold thousands of idle connections here.
                await client.ReceiveAsync(Memory<byte>.Empty, _stop.Token);
                var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
                try
                {
                    var read = await client.ReceiveAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        client.Shutdown(SocketShutdown.Send);
                        return;
                    }
                    Interlocked.Add(ref _received, read);
                    await client.SendAsync(buffer.AsMemory(0, read), _stop.Token);
                    Interlocked.Add(ref _sent, read);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The client went away or the server stopped.
        }
    }

    /// <summary>Sends <paramref name="payload"/> over <paramref name="stream"/> and reads the same number of bytes back.</summary>
    public static async Task<byte[]> RoundTripAsync(Stream stream, byte[] payload, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await stream.WriteAsync(payload, cancel.Token);
        var back = new byte[payload.Length];
        await stream.ReadExactlyAsync(back, cancel.Token);
        return back;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
    }
}
