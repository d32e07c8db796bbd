using System.Net;
using System.Net.Sockets;

namespace Jumpgate.TestSupport;

/// <summary>A TCP relay on loopback that keeps a copy of every byte it passes, both ways (bounded: 16 MiB a direction).</summary>
public sealed class RecordingRelay : IAsyncDisposable
{
    private const int Limit = 16 << 20;
    private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(MemoryStream Up, MemoryStream Down)> _connections = [];
    private readonly List<Task> _running = [];
    private Task _accepting = Task.CompletedTask;

    private RecordingRelay(IPEndPoint target)
    {
        _target = target;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static Task<RecordingRelay> StartAsync(IPEndPoint target)
    {
        var relay = new RecordingRelay(target);
        relay._listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        relay._listener.Listen(16);
        relay._accepting = relay.AcceptAsync();
        return Task.FromResult(relay);
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await server.ConnectAsync(_target, _stop.Token);
                var record = (new MemoryStream(), new MemoryStream());
                lock (_connections)
                {
                    _connections.Add(record);
                    _running.Add(RelayAsync(client, server, record));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    /// <summary>Both directions, each passing its end on as a half-close; a reset either way closes both sockets.</summary>
    private async Task RelayAsync(Socket client, Socket server, (MemoryStream Up, MemoryStream Down) record)
    {
        using (client)
        using (server)
        {
            await Task.WhenAll(PumpAsync(client, server, record.Up), PumpAsync(server, client, record.Down));
        }
    }

    private async Task PumpAsync(Socket from, Socket to, MemoryStream copy)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, _stop.Token)) > 0)
            {
                lock (copy)
                {
                    if (copy.Length < Limit)
                    {
                        copy.Write(buffer, 0, read);
                    }
                }
                await to.SendAsync(buffer.AsMemory(0, read), _stop.Token);
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // One end went away: close both, so the other direction ends too.
            from.Close();
            to.Close();
        }
    }

    public (long Up, long Down, int Connections) Totals()
    {
        lock (_connections)
        {
            return (_connections.Sum(c => Length(c.Up)), _connections.Sum(c => Length(c.Down)), _connections.Count);
        }
    }

    public int ConnectionsOpeningWith(byte[] preface)
    {
        lock (_connections)
        {
            return _connections.Count(c => Opens(c.Up, preface));
        }
    }

    private static bool Opens(MemoryStream copy, byte[] preface)
    {
        lock (copy)
        {
            return copy.Length >= preface.Length && copy.GetBuffer().AsSpan(0, preface.Length).SequenceEqual(preface);
        }
    }

    /// <summary>A copy of what each connection carried so far, in the order they came: up (towards the target) and down.</summary>
    public IReadOnlyList<(byte[] Up, byte[] Down)> Recorded()
    {
        lock (_connections)
        {
            return _connections.Select(c => (Copy(c.Up), Copy(c.Down))).ToList();
        }
    }

    private static byte[] Copy(MemoryStream copy)
    {
        lock (copy)
        {
            return copy.ToArray();
        }
    }

    public bool Contains(byte[] needle)
    {
        lock (_connections)
        {
            return _connections.Any(c => Has(c.Up, needle) || Has(c.Down, needle));
        }
    }

    private static long Length(MemoryStream copy)
    {
        lock (copy)
        {
            return copy.Length;
        }
    }

    private static bool Has(MemoryStream copy, byte[] needle)
    {
        lock (copy)
        {
            return copy.GetBuffer().AsSpan(0, (int)copy.Length).IndexOf(needle) >= 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        Task[] running;
        lock (_connections)
        {
            running = [.. _running];
        }
        await Task.WhenAll(running);
    }
}
