using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Jumpgate.Core.Streams;

/// <summary>A TCP connection as a <see cref="ConnectionStream"/>: its end is passed on with shutdown(SHUT_WR).</summary>
internal sealed class SocketStream(Socket socket) : ConnectionStream
{
    private readonly NetworkStream _inner = new(socket, ownsSocket: true);

    public override SafeHandle ReadDescriptor => socket.SafeHandle;

    /// <summary>Bytes the kernel holds (FIONREAD); at the end there are none, and the next round's zero-byte read and read find it.</summary>
    public override bool ReadsAtOnce
    {
        get
        {
            try
            {
                return socket.Available > 0;
            }
            catch (SocketException)
            {
                // A broken socket: the read that follows reports it.
                return true;
            }
        }
    }

    public override SafeHandle WriteDescriptor => socket.SafeHandle;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override ValueTask CloseOutputAsync()
    {
        socket.Shutdown(SocketShutdown.Send);
        return ValueTask.CompletedTask;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return _inner.DisposeAsync();
    }
}
