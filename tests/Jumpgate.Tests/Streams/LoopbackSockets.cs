using System.Net;
using System.Net.Sockets;
using Jumpgate.TestSupport;

namespace Jumpgate.Tests.Streams;

/// <summary>Real TCP connections over 127.0.0.1, on a port the system picks.</summary>
internal static class LoopbackSockets
{
    /// <summary>Bounds every read loop: no test sends more.</summary>
    private const int MaxRead = 64 * 1024 * 1024;

    /// <summary>Connects a client to a fresh listener and returns both ends of the one connection.</summary>
    public static async Task<(Socket Client, Socket Server)> ConnectAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            var accepting = listener.AcceptSocketAsync();
            await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
            var server = await accepting.WaitAsync(Signals.Timeout(10));
            server.NoDelay = true;
            return (client, server);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Reads until the peer ends its side of the connection, and returns everything read.</summary>
    public static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, read);
            if (received.Length > MaxRead)
            {
                throw new InvalidOperationException($"more than {MaxRead} bytes arrived; no test sends that much");
            }
        }
        return received.ToArray();
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        for (var at = 0; at < count;)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(at));
            at += read > 0 ? read : throw new EndOfStreamException($"the connection ended after {at} of {count} bytes");
        }
        return buffer;
    }

    /// <summary>Closes with a TCP reset rather than an orderly FIN, as a crashed peer or a middlebox would.</summary>
    public static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }
}
