using System.Buffers;
using FrameType = Jumpgate.Core.Streams.Trunk.FrameType;

namespace Jumpgate.Core.Streams;

/// <summary>
/// One stream on a <see cref="Trunk"/>, used like a socket: read until end of stream,
/// <see cref="CloseOutputAsync"/> to send end of stream, <see cref="Abort"/> (or dispose before
/// both ends are done) to reset it. Data that arrives waits here until it is read, never more
/// than the window; reading it gives the sender credit to send more. One reader and one writer
/// at a time, as with a socket.
/// </summary>
internal sealed partial class TrunkStream : ConnectionStream
{
    private readonly Trunk _trunk;
    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _received = new();
    private byte[]? _tail;
    private int _tailCount;
    private int _headOffset;
    private int _buffered;
    private int _consumed;
    private int _credit = Trunk.Window;
    private bool _finReceived;
    private bool _finSent;
    private bool _reset;
    private TaskCompletionSource? _readable;
    private TaskCompletionSource? _writable;

    internal TrunkStream(Trunk trunk)
    {
        _trunk = trunk;
    }

    /// <summary>
    /// What arrives is held in chunks of this size, each filled before the next is taken: a peer's
    /// 1-byte frames cost a byte each, not an array each, so a stalled stream holds at most its
    /// window plus two part-filled chunks (the head's read part, the tail's empty part). A TLS record's worth.
    /// </summary>
    internal const int ChunkSize = 16 * 1024;

    /// <summary>Arrived and not yet read.</summary>
    internal int Buffered
    {
        get
        {
            lock (_gate)
            {
                return _buffered;
            }
        }
    }

    /// <summary>What the arrived, unread data holds in memory: whole chunks, not just their payload.</summary>
    internal int HeldBytes
    {
        get
        {
            lock (_gate)
            {
                return _received.Count * ChunkSize;
            }
        }
    }

    /// <summary>One write is one frame: up to a whole frame's payload (and so whole TLS records).</summary>
    public override int WriteSize => Trunk.MaxPayload;

    /// <summary>A frame per write has a header each: what has already arrived goes into one.</summary>
    public override bool GathersWrites => true;

    /// <summary>0 until the stream's first frame is written (opener side).</summary>
    public uint Id { get; internal set; }

    /// <summary>Sends <paramref name="buffer"/> in frames as the peer's credit allows. Only waiting for credit is cancellable.</summary>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            Task? wait = null;
            int take;
            lock (_gate)
            {
                if (_reset)
                {
                    throw new IOException("the stream was reset");
                }
                if (_finSent)
                {
                    throw new InvalidOperationException("the stream's output is closed");
                }
                take = Math.Min(Math.Min(_credit, Trunk.MaxPayload), buffer.Length);
                if (take > 0)
                {
                    _credit -= take;
                }
                else
                {
                    wait = (_writable ??= new TaskCompletionSource()).Task;
                }
            }
            if (wait is not null)
            {
                await wait.WaitAsync(cancellationToken);
                continue;
            }
            await _trunk.WriteFrameAsync(FrameType.Data, this, buffer[..take]);
            buffer = buffer[take..];
        }
    }

    /// <summary>Sends end of stream: the peer reads what was sent, then 0. Reading goes on.</summary>
    public override async ValueTask CloseOutputAsync()
    {
        bool done;
        lock (_gate)
        {
            if (_finSent || _reset)
            {
                return;
            }
            _finSent = true;
            done = _finReceived;
        }
        await _trunk.WriteFrameAsync(FrameType.Fin, this, ReadOnlyMemory<byte>.Empty);
        if (done)
        {
            _trunk.Remove(this);
        }
    }

    /// <summary>Resets the stream: the peer's reads and writes fail, and what is buffered here is dropped.</summary>
    public void Abort()
    {
        bool tell;
        lock (_gate)
        {
            // A stream that never sent a frame does not exist on the other side.
            tell = Id != 0 && !_reset && !(_finSent && _finReceived);
            // Reset under the same lock the id is read under: a first frame still waiting for the
            // write lock then never opens the stream (TryOpen), and one already written is told of.
            _reset = true;
            DropReceived();
        }
        if (tell)
        {
            _trunk.Post(FrameType.Reset, this);
        }
        OnReset();
    }

    /// <summary>
    /// Opener side, under the trunk's write lock, before the stream's first frame: gives it
    /// <paramref name="id"/> and enters it in the trunk's table, unless it was reset while it
    /// waited. Under the stream's lock, so an <see cref="Abort"/> either comes first (nothing is
    /// opened) or sees the id (tells the peer, and takes the stream out of the table again).
    /// </summary>
    internal bool TryOpen(uint id)
    {
        lock (_gate)
        {
            if (_reset)
            {
                return false;
            }
            Id = id;
            _trunk.Enter(this);
            return true;
        }
    }

    internal void OnFin()
    {
        bool done;
        TaskCompletionSource? reader;
        lock (_gate)
        {
            _finReceived = true;
            done = _finSent;
            reader = Take(ref _readable);
        }
        reader?.TrySetResult();
        if (done)
        {
            _trunk.Remove(this);
        }
    }

    internal void OnCredit(int credit)
    {
        TaskCompletionSource? writer;
        lock (_gate)
        {
            _credit += credit;
            writer = Take(ref _writable);
        }
        writer?.TrySetResult();
    }

    /// <summary>The peer reset the stream, or the trunk closed: writes fail, reads fail once what had arrived is read.</summary>
    internal void OnReset()
    {
        TaskCompletionSource? reader, writer;
        lock (_gate)
        {
            _reset = true;
            reader = Take(ref _readable);
            writer = Take(ref _writable);
        }
        reader?.TrySetResult();
        writer?.TrySetResult();
        _trunk.Remove(this);
    }

    /// <summary>
    /// Takes the waiter to wake once the lock is released. It is woken on the calling thread (the
    /// reader loop): the relay's next step runs at once instead of after a hop to another thread,
    /// and it returns to the loop at its first wait.
    /// </summary>
    private static TaskCompletionSource? Take(ref TaskCompletionSource? waiter)
    {
        var taken = waiter;
        waiter = null;
        return taken;
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>A stream closed before both ends said end of stream is reset, as a socket closed with data unread is.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            bool finished;
            lock (_gate)
            {
                finished = _finSent && _finReceived;
                DropReceived();
            }
            if (finished)
            {
                _trunk.Remove(this);
            }
            else
            {
                Abort();
            }
        }
        base.Dispose(disposing);
    }
}
