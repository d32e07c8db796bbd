using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Jumpgate.Core.Background;

namespace Jumpgate.Core.Streams;

/// <summary>
/// Many streams over one connection (docs/protocol.md, "Trunks"). A stream costs a frame
/// instead of a TLS handshake, and an idle stream costs a few hundred bytes instead of a TLS
/// connection. Each frame is an 8-byte header (type, 24-bit length, 32-bit stream id) and its
/// payload. Only one side opens streams (the opener: `forward` towards the gateway, the gateway
/// towards an agent); the first Data frame with a new, higher id opens one on the other side.
/// Every stream has its own credit window each way, so a stream whose reader stalls holds back
/// only itself, and the reader loop never waits on a write, so two trunks cannot deadlock.
/// </summary>
internal sealed class Trunk
{
    public const int HeaderSize = 8;

    /// <summary>
    /// A frame with its header fills eight 16 KiB TLS records exactly: a payload of a round
    /// 128 KiB would add a record of 8 bytes to every frame.
    /// </summary>
    public const int MaxPayload = 128 * 1024 - HeaderSize;

    /// <summary>What a sender may have unacknowledged per stream: enough to keep one stream at full speed on loopback.</summary>
    public const int Window = 1024 * 1024;

    private readonly Stream _transport;
    private readonly bool _opener;
    private readonly Func<TrunkStream, Task>? _accept;
    private readonly TaskGroup? _handlers;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<ControlFrame> _control = Channel.CreateUnbounded<ControlFrame>(new UnboundedChannelOptions
    {
        SingleReader = true,
        // The control writer, when idle, writes a posted frame at once on the poster's thread, as a direct write would.
        AllowSynchronousContinuations = true,
    });
    private readonly ConcurrentDictionary<uint, TrunkStream> _streams = new();
    private readonly CancellationTokenSource _closed = new();
    private int _lastId;
    private volatile bool _draining;
    private int _closing;
    private int _refusalsUnwritten;
    private TaskCompletionSource? _refusalsWritten;
    private long _lastActivity;

    /// <summary>
    /// How many refusals (<see cref="Refuse"/>) may wait to be written before the reader stops
    /// taking frames until half of them are: a peer that opens streams faster than their refusals
    /// can be written is slowed to that pace instead of queueing answers without end.
    /// </summary>
    public const int MaxRefusalsUnwritten = 64;

    /// <summary>How long the reader waits for refusals to be written; a peer that reads nothing for this long is closed.</summary>
    public static readonly TimeSpan RefusalWriteTimeout = TimeSpan.FromSeconds(10);

    /// <param name="transport">The connection, after its hello; the trunk owns it from here on.</param>
    /// <param name="opener">Whether this side opens streams; the other side accepts them.</param>
    /// <param name="accept">The acceptor's handler for each new stream (acceptor side only); it owns the stream. It runs on the reader loop until it first waits, as it does again each time a frame wakes it, so between waits it does only short work and never blocks. <see cref="RunAsync"/> ends only once every handler has.</param>
    /// <param name="acceptFailed">Told of each handler that ended with an exception, for the acceptor to log (acceptor side only).</param>
    public Trunk(Stream transport, bool opener, Func<TrunkStream, Task>? accept = null, Action<Exception>? acceptFailed = null)
    {
        _transport = transport;
        _opener = opener;
        _accept = accept;
        if (!opener)
        {
            ArgumentNullException.ThrowIfNull(accept);
            ArgumentNullException.ThrowIfNull(acceptFailed);
            _handlers = new TaskGroup(acceptFailed);
        }
    }

    /// <summary>Cancelled when the connection is gone; every stream on it is reset then.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>True while new streams may be opened here.</summary>
    public bool IsOpen => !_closed.IsCancellationRequested && !_draining;

    public int StreamCount => _streams.Count;

    /// <summary>
    /// A trunk with no streams that receives nothing for this long is closed (a peer that vanished
    /// without a word, or one nobody uses). Infinite (the default) keeps it open.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>True once the trunk was closed for being idle (<see cref="IdleTimeout"/>).</summary>
    public bool ClosedIdle { get; private set; }

    /// <summary>
    /// Opens a stream (opener side only). It gets its id, and opens on the other side, with its
    /// first frame: ids then reach the peer in increasing order however many streams open at once.
    /// </summary>
    public TrunkStream Open()
    {
        if (!_opener)
        {
            throw new InvalidOperationException("only the opening side of a trunk opens streams");
        }
        var stream = new TrunkStream(this);
        if (_closed.IsCancellationRequested)
        {
            stream.OnReset();
        }
        return stream;
    }

    /// <summary>No new streams; the connection closes once the last stream on it ends.</summary>
    public void Drain()
    {
        _draining = true;
        if (_streams.IsEmpty)
        {
            Close();
        }
    }

    /// <summary>
    /// Reads frames until the connection ends or <paramref name="cancellationToken"/> fires, then
    /// resets every stream, and returns once its control writer and every stream handler have ended.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var controlWriter = WriteControlFramesAsync();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        var buffer = new byte[2 * (HeaderSize + MaxPayload)];
        int start = 0, end = 0;
        Volatile.Write(ref _lastActivity, Time.GetTimestamp());
        // Checked four times per timeout, so an idle trunk closes within 1.25 timeouts.
        using var idle = IdleTimeout == Timeout.InfiniteTimeSpan ? null : Time.CreateTimer(_ => CloseIfIdle(), null, IdleTimeout / 4, IdleTimeout / 4);
        try
        {
            while (true)
            {
                // Take every whole frame in the buffer, then read more behind what is left.
                while (end - start >= HeaderSize)
                {
                    if (Volatile.Read(ref _refusalsUnwritten) >= MaxRefusalsUnwritten)
                    {
                        await WhenRefusalsWrittenAsync(stop.Token);
                    }
                    var header = buffer.AsSpan(start, HeaderSize);
                    var length = header[1] << 16 | header[2] << 8 | header[3];
                    if (length > MaxPayload)
                    {
                        throw new InvalidDataException($"trunk frame of {length} bytes exceeds {MaxPayload}");
                    }
                    if (end - start < HeaderSize + length)
                    {
                        break;
                    }
                    Dispatch((FrameType)header[0], BinaryPrimitives.ReadUInt32BigEndian(header[4..]), buffer.AsSpan(start + HeaderSize, length));
                    start += HeaderSize + length;
                }
                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - end < HeaderSize + MaxPayload)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    (start, end) = (0, end - start);
                }
                var read = await _transport.ReadAsync(buffer.AsMemory(end), stop.Token);
                if (read == 0)
                {
                    return;
                }
                Volatile.Write(ref _lastActivity, Time.GetTimestamp());
                end += read;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException or ObjectDisposedException or TimeoutException or System.Security.Authentication.AuthenticationException)
        {
            // The connection ended, its peer broke the protocol, or it read nothing for too long; either way every stream on it is over.
        }
        finally
        {
            Close();
            try
            {
                await _transport.DisposeAsync();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
            {
                // Already broken; closing it is all that was left to do.
            }
            // The transport is gone, so a control write still under way has failed: the writer drops what is queued and ends.
            await controlWriter;
            if (_handlers is not null)
            {
                await _handlers.DisposeAsync();
            }
        }
    }

    private void Dispatch(FrameType type, uint id, ReadOnlySpan<byte> payload)
    {
        if (!_streams.TryGetValue(id, out var stream))
        {
            // A new stream opens with data; anything else for an unknown id belongs to a stream already gone.
            if (_opener || type != FrameType.Data || id <= (uint)_lastId)
            {
                return;
            }
            _lastId = (int)id;
            stream = new TrunkStream(this) { Id = id };
            _streams[id] = stream;
            stream.Deliver(payload);
            // Run here, not queued: its first steps (read the request, check it, open the next leg)
            // complete at once on data already delivered, and its first real wait returns to this loop.
            _handlers!.Start(static (accepted, _) => accepted.Trunk._accept!(accepted.Stream), (Trunk: this, Stream: stream));
            return;
        }
        switch (type)
        {
            case FrameType.Data:
                if (!stream.Deliver(payload))
                {
                    throw new InvalidDataException("the peer sent past a stream's window");
                }
                break;
            case FrameType.Fin:
                stream.OnFin();
                break;
            case FrameType.Reset:
                stream.OnReset();
                break;
            case FrameType.Credit:
                // Credit only gives back what was sent, so it is never more than a window.
                var credit = payload.Length == 4 ? BinaryPrimitives.ReadInt32BigEndian(payload) : 0;
                stream.OnCredit(credit is > 0 and <= Window ? credit : throw new InvalidDataException("malformed trunk credit frame"));
                break;
            default:
                throw new InvalidDataException($"unknown trunk frame type {(byte)type}");
        }
    }

    private void CloseIfIdle()
    {
        if (_streams.IsEmpty && Time.GetElapsedTime(Volatile.Read(ref _lastActivity)) >= IdleTimeout)
        {
            ClosedIdle = true;
            Close();
        }
    }

    /// <summary>
    /// Answers a new stream (acceptor side) with <paramref name="answer"/> and resets it, in one write
    /// nobody waits on: the stream's handler refuses without holding anything. Called on the reader loop.
    /// </summary>
    public void Refuse(TrunkStream stream, ReadOnlyMemory<byte> answer)
    {
        stream.Discard();
        Interlocked.Increment(ref _refusalsUnwritten);
        if (!_control.Writer.TryWrite(new ControlFrame(FrameType.Data, stream.Id, 0, answer)))
        {
            // Closed: there is nobody left to answer.
            RefusalsWritten(1);
        }
    }

    /// <summary>
    /// The reader's only wait on writes: while refusals pile up it takes no more frames until half
    /// of them are written. Only refusals count, and only a peer that opens streams it was refused
    /// waits here; it times out (<see cref="RefusalWriteTimeout"/>) if the peer reads nothing.
    /// </summary>
    private async Task WhenRefusalsWrittenAsync(CancellationToken cancellationToken)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _refusalsWritten, written);
        if (Volatile.Read(ref _refusalsUnwritten) > MaxRefusalsUnwritten / 2)
        {
            await written.Task.WaitAsync(RefusalWriteTimeout, Time, cancellationToken);
        }
        Volatile.Write(ref _refusalsWritten, null);
    }

    /// <summary>
    /// Writes the frames nobody waits on (<see cref="Post"/>, <see cref="Refuse"/>): whatever is
    /// queued goes out in one write under the write lock, beside the streams' data frames. The queue
    /// is bounded by what feeds it: a stream posts a reset once and credit only for data it read
    /// (so at most a few frames before the peer waits for them), and refusals pause the reader at
    /// <see cref="MaxRefusalsUnwritten"/>. A write that fails closes the trunk, and what is queued then is dropped.
    /// </summary>
    private async Task WriteControlFramesAsync()
    {
        var frames = new ArrayBufferWriter<byte>(4 * HeaderSize);
        // No token: the queue completes when the trunk closes, and the loop ends once it is empty.
        while (await _control.Reader.WaitToReadAsync(CancellationToken.None))
        {
            var refusals = 0;
            while (frames.WrittenCount < MaxPayload && _control.Reader.TryRead(out var frame))
            {
                Append(frames, frame);
                refusals += frame.Type == FrameType.Data ? 1 : 0;
            }
            try
            {
                await _writeLock.WaitAsync(CancellationToken.None);
                try
                {
                    if (!_closed.IsCancellationRequested)
                    {
                        // Never cancelled halfway: a half-written frame would corrupt the trunk.
                        await _transport.WriteAsync(frames.WrittenMemory, CancellationToken.None);
                    }
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException or System.Security.Authentication.AuthenticationException)
            {
                // The connection failed: every stream on it is reset, and nothing more is queued.
                Close();
            }
            finally
            {
                frames.ResetWrittenCount();
                if (refusals > 0)
                {
                    RefusalsWritten(refusals);
                }
            }
        }

        static void Append(ArrayBufferWriter<byte> frames, ControlFrame frame)
        {
            var length = frame.Type switch
            {
                FrameType.Data => 2 * HeaderSize + frame.Answer.Length,
                FrameType.Credit => HeaderSize + 4,
                _ => HeaderSize,
            };
            var span = frames.GetSpan(length);
            switch (frame.Type)
            {
                case FrameType.Data:
                    WriteHeader(span, FrameType.Data, frame.Answer.Length, frame.Id);
                    frame.Answer.Span.CopyTo(span[HeaderSize..]);
                    WriteHeader(span[(HeaderSize + frame.Answer.Length)..], FrameType.Reset, 0, frame.Id);
                    break;
                case FrameType.Credit:
                    WriteHeader(span, FrameType.Credit, 4, frame.Id);
                    BinaryPrimitives.WriteInt32BigEndian(span[HeaderSize..], frame.Credit);
                    break;
                default:
                    WriteHeader(span, frame.Type, 0, frame.Id);
                    break;
            }
            frames.Advance(length);
        }
    }

    /// <summary>Counts refusals written (or dropped with a closed trunk), and wakes the reader once half of those waiting are.</summary>
    private void RefusalsWritten(int count)
    {
        if (Interlocked.Add(ref _refusalsUnwritten, -count) <= MaxRefusalsUnwritten / 2)
        {
            Volatile.Read(ref _refusalsWritten)?.TrySetResult();
        }
    }

    private static int WriteHeader(Span<byte> frame, FrameType type, int length, uint id)
    {
        frame[0] = (byte)type;
        frame[1] = (byte)(length >> 16);
        frame[2] = (byte)(length >> 8);
        frame[3] = (byte)length;
        BinaryPrimitives.WriteUInt32BigEndian(frame[4..], id);
        return HeaderSize;
    }

    /// <summary>Writes one whole frame; a failure closes the trunk, since a half-written frame would corrupt it.</summary>
    internal async ValueTask WriteFrameAsync(FrameType type, TrunkStream stream, ReadOnlyMemory<byte> payload)
    {
        var frame = ArrayPool<byte>.Shared.Rent(HeaderSize + payload.Length);
        try
        {
            frame[0] = (byte)type;
            frame[1] = (byte)(payload.Length >> 16);
            frame[2] = (byte)(payload.Length >> 8);
            frame[3] = (byte)payload.Length;
            payload.Span.CopyTo(frame.AsSpan(HeaderSize));
            await _writeLock.WaitAsync(CancellationToken.None);
            try
            {
                if (_closed.IsCancellationRequested)
                {
                    throw new IOException("the trunk connection is closed");
                }
                if (stream.Id == 0)
                {
                    stream.Id = (uint)++_lastId;
                    _streams[stream.Id] = stream;
                }
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), stream.Id);
                await _transport.WriteAsync(frame.AsMemory(0, HeaderSize + payload.Length), CancellationToken.None);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception e)
        {
            Close();
            if (e is IOException)
            {
                throw;
            }
            throw new IOException("the trunk connection failed", e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>
    /// For frames nobody waits on (a reset, credit) of a stream whose first frame is written: queued
    /// for the control writer, which writes them at once unless a write is under way.
    /// </summary>
    internal void Post(FrameType type, TrunkStream stream, int credit = 0)
    {
        Debug.Assert(stream.Id != 0 && type is FrameType.Reset or FrameType.Credit);
        // False once the trunk is closed: the peer has nothing left to hear about.
        _control.Writer.TryWrite(new ControlFrame(type, stream.Id, credit, default));
    }

    internal void Remove(TrunkStream stream)
    {
        if (stream.Id == 0 || !_streams.TryRemove(new KeyValuePair<uint, TrunkStream>(stream.Id, stream)))
        {
            return;
        }
        // The idle timeout counts from the last stream's end, not from its last frame.
        Volatile.Write(ref _lastActivity, Time.GetTimestamp());
        if (_draining && _streams.IsEmpty)
        {
            Close();
        }
    }

    /// <summary>Resets every stream and stops the reader, which then closes the connection.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }
        _closed.Cancel();
        _control.Writer.TryComplete();
        foreach (var stream in _streams.Values)
        {
            stream.OnReset();
        }
        _streams.Clear();
    }

    /// <summary>A frame for the control writer: a reset, credit, or (type data) a refusal's answer followed by a reset.</summary>
    private readonly record struct ControlFrame(FrameType Type, uint Id, int Credit, ReadOnlyMemory<byte> Answer);

    internal enum FrameType : byte
    {
        Data = 1,
        Fin = 2,
        Reset = 3,
        Credit = 4,
    }
}
