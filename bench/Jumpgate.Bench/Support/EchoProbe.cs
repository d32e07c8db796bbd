using System.Net.Sockets;

namespace Jumpgate.Bench.Support;

/// <summary>Checks that a path really carries bytes to the echo server and back, unchanged.</summary>
internal static class EchoProbe
{
    /// <summary>Sends <paramref name="size"/> random bytes through the path while reading them back; throws unless every byte comes back in order.</summary>
    public static async Task VerifyAsync(string path, int port, int size, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var payload = new byte[size];
        Random.Shared.NextBytes(payload);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(Ports.Loopback(port), cancel.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var writing = Task.Run(async () =>
            {
                for (var offset = 0; offset < size; offset += 64 * 1024)
                {
                    await stream.WriteAsync(payload.AsMemory(offset, Math.Min(64 * 1024, size - offset)), cancel.Token);
                }
            }, cancel.Token);
            var back = new byte[size];
            await stream.ReadExactlyAsync(back, cancel.Token);
            await writing;
            if (!back.AsSpan().SequenceEqual(payload))
            {
                throw new InvalidOperationException($"{path}: the bytes that came back differ from the {size} bytes sent");
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            throw new InvalidOperationException($"{path}: could not echo {size} bytes through 127.0.0.1:{port}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Half-close, as `ssh`, `rsync` and any request-then-EOF protocol use it: send, shut down writing,
    /// and expect the echo back followed by end of stream (the echo server closes once it sees the
    /// client's EOF). Returns null if the path carries it, or what went wrong.
    /// </summary>
    public static async Task<string?> HalfCloseAsync(int port, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var payload = new byte[1024];
        Random.Shared.NextBytes(payload);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(Ports.Loopback(port), cancel.Token);
            await socket.SendAsync(payload, cancel.Token);
            socket.Shutdown(SocketShutdown.Send);
            var back = new List<byte>();
            var buffer = new byte[4096];
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, cancel.Token);
                if (n == 0)
                {
                    break;
                }
                back.AddRange(buffer.AsSpan(0, n));
            }
            return back.Count == payload.Length && back.ToArray().AsSpan().SequenceEqual(payload)
                ? null
                : $"got {back.Count} of {payload.Length} bytes back before end of stream";
        }
        catch (OperationCanceledException)
        {
            return $"the client's EOF never reached the service: no end of stream within {timeout.TotalSeconds:0} s";
        }
        catch (SocketException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// One new connection, timed by the caller: open, send 64 bytes, read 64 bytes, close. Synchronous on
    /// purpose: the client adds no thread-pool hops to what it measures. False if the bytes did not come back intact.
    /// </summary>
    public static bool RoundTrip(int port, byte[] payload, byte[] back)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10_000, SendTimeout = 10_000 };
        try
        {
            socket.Connect(Ports.Loopback(port));
            socket.Send(payload);
            var read = 0;
            while (read < back.Length)
            {
                var n = socket.Receive(back, read, back.Length - read, SocketFlags.None);
                if (n == 0)
                {
                    return false;
                }
                read += n;
            }
            return back.AsSpan().SequenceEqual(payload);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Opens a connection, proves it is tunneled with one 64-byte echo, and keeps it open (for the idle-memory figure).</summary>
    public static Socket? OpenIdle(int port, byte[] payload)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10_000, SendTimeout = 10_000 };
        try
        {
            socket.Connect(Ports.Loopback(port));
            socket.Send(payload);
            var back = new byte[payload.Length];
            var read = 0;
            while (read < back.Length)
            {
                var n = socket.Receive(back, read, back.Length - read, SocketFlags.None);
                if (n == 0)
                {
                    break;
                }
                read += n;
            }
            if (read == back.Length && back.AsSpan().SequenceEqual(payload))
            {
                return socket;
            }
        }
        catch (SocketException)
        {
            // Counted as a failure below.
        }
        socket.Dispose();
        return null;
    }
}
