using System.Runtime.InteropServices;

namespace Jumpgate.Core.Streams;

/// <summary>
/// What every stream that stands for a connection says alike: read and written at once, never
/// sought, and able to pass its end on while it is still read (half-close), which is what lets
/// <see cref="Splice"/> carry a connection's end without knowing what kind of connection it is.
/// </summary>
internal abstract class ConnectionStream : Stream
{
    public sealed override bool CanRead => true;
    public sealed override bool CanWrite => true;
    public sealed override bool CanSeek => false;
    public sealed override long Length => throw new NotSupportedException();
    public sealed override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>
    /// Sends end of stream: the peer reads what was written, then 0, while this side's reads go on
    /// (a socket's shutdown(SHUT_WR), TLS's close_notify, a trunk stream's fin).
    /// </summary>
    public abstract ValueTask CloseOutputAsync();

    /// <summary>The most one write should carry; a relay reads at most this much before writing it.</summary>
    public virtual int WriteSize => Splice.BufferSize;

    /// <summary>
    /// Whether each write costs enough on its own (a trunk frame each) that a relay should gather
    /// what has already arrived into one write rather than pass each read on.
    /// </summary>
    public virtual bool GathersWrites => false;

    /// <summary>
    /// Whether a zero-byte read waits for data, as a socket's does. A relay gathers only from a
    /// source whose does, or a keystroke would wait for the next one.
    /// </summary>
    public virtual bool ZeroByteReadWaits => true;

    /// <summary>
    /// Whether a read now returns at once, with bytes or the end. A relay that gathers asks this after
    /// a zero-byte read completes, before it reads more: a socket's zero-byte read can complete on a
    /// readiness event left over from bytes already read, and a read after it then waits for the
    /// peer's next bytes while those gathered so far are held back. True by default: a trunk
    /// stream's zero-byte read completes only with bytes in hand, and the TLS a relay gathers from
    /// (the gateway's legs) reads Kestrel's pipe, which wakes only once bytes have arrived.
    /// </summary>
    public virtual bool ReadsAtOnce => true;

    /// <summary>
    /// The socket or pipe this connection's bytes can be read from in the kernel (splice(2)), when
    /// nothing sits above it (no TLS, no frames) and nothing it received is still buffered in user
    /// space; null otherwise. A relay may then move them without copying them through user space.
    /// </summary>
    public virtual SafeHandle? ReadDescriptor => null;

    /// <summary>The socket or pipe this connection's bytes can be written to in the kernel, when nothing sits above it; null otherwise.</summary>
    public virtual SafeHandle? WriteDescriptor => null;

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();
}
