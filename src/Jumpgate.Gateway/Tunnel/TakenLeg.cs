using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Jumpgate.Core.Streams;
using Jumpgate.Core.Streams.Kernel;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// A direct leg's TCP socket, taken from Kestrel so that <see cref="Splice"/> can move its bytes
/// in the kernel and half-close it. Kestrel's socket transport receives from a connection from the
/// moment it accepts it and offers no way to stop (<c>IConnectionSocketFeature</c> only lends the
/// socket): a splice beside its receive loop would race it for the bytes. So the leg's socket
/// moves to a descriptor of the gateway's own, and an AF_UNIX socket whose peer is already closed
/// takes its place under Kestrel's descriptor number (dup3): Kestrel's next receive reads end of
/// stream there and its loop ends, after handing over what it had already read. Those bytes are
/// read first, from Kestrel's pipe, until it completes; only then does the leg offer its
/// descriptor for reading. Kestrel's send loop never runs (nothing is written to its pipe), and
/// its close at the end closes the stand-in.
/// </summary>
internal sealed class TakenLeg : ConnectionStream
{
    private readonly PipeReader _buffered;
    private readonly Socket _socket;
    private bool _drained;

    private TakenLeg(PipeReader buffered, Socket socket) => (_buffered, _socket) = (buffered, socket);

    /// <summary>Takes the leg's socket from Kestrel; the connection must not have been written to, and is read only through this leg from now on.</summary>
    public static unsafe TakenLeg TakeOver(ConnectionContext leg)
    {
        var kestrels = leg.Features.Get<IConnectionSocketFeature>()?.Socket
            ?? throw new InvalidOperationException("the leg is not a socket connection, so it cannot be spliced in the kernel");
        var handle = kestrels.SafeHandle;
        var added = false;
        // Held so that Kestrel cannot close its descriptor number (which another file could then reuse) while it is swapped.
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)handle.DangerousGetHandle();
            var ours = Check(Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)");
            var pair = stackalloc int[2];
            try
            {
                Check(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0, pair), "socketpair");
                Libc.close(pair[1]);
                var swapped = Libc.dup3(pair[0], fd, Libc.O_CLOEXEC);
                var errno = Libc.LastError;
                Libc.close(pair[0]);
                Check(swapped < 0 ? -1 : 0, "dup3", errno);
            }
            catch
            {
                Libc.close(ours);
                throw;
            }
            return new TakenLeg(leg.Transport.Input, new Socket(new SafeSocketHandle(ours, ownsHandle: true)));
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static int Check(int result, string call, int? errno = null) => result >= 0 ? result : throw Libc.Failure(call, errno ?? Libc.LastError);

    public override SafeHandle? ReadDescriptor => _drained ? _socket.SafeHandle : null;

    public override SafeHandle WriteDescriptor => _socket.SafeHandle;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_drained)
        {
            return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        }
        var result = await _buffered.ReadAsync(cancellationToken);
        var data = result.Buffer;
        if (result.IsCanceled)
        {
            _buffered.AdvanceTo(data.Start);
            throw new OperationCanceledException("the leg's read was cancelled");
        }
        if (data.IsEmpty && result.IsCompleted)
        {
            // Kestrel's loop has ended: everything it took is passed on, and the socket is the relay's alone.
            _buffered.AdvanceTo(data.End);
            await _buffered.CompleteAsync();
            _drained = true;
            return buffer.IsEmpty ? 0 : await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        }
        // A zero-byte read waits for data (or the end of Kestrel's) without taking it.
        var count = (int)Math.Min(buffer.Length, data.Length);
        data.Slice(0, count).CopyTo(buffer.Span);
        _buffered.AdvanceTo(data.GetPosition(count));
        return count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            buffer = buffer[await _socket.SendAsync(buffer, SocketFlags.None, cancellationToken)..];
        }
    }

    public override ValueTask CloseOutputAsync()
    {
        _socket.Shutdown(SocketShutdown.Send);
        return ValueTask.CompletedTask;
    }

    /// <summary>Cuts the leg: both directions end at once for the peer and for the relay.</summary>
    public void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed: cut either way.
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _socket.Dispose();
        }
        base.Dispose(disposing);
    }
}
