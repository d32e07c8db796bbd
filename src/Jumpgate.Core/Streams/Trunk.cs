using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;

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
    private readonly SemaphoreSlim _writeLock = new(1, 1);
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
    /// <param name="accept">The acceptor's handler for each new stream; it owns the stream. It runs on the reader loop until it first waits, as it does again each time a frame wakes it, so between waits it does only short work and never blocks.</param>
    public Trunk(Stream transport, bool opener, Func<TrunkStream, Task>? accept = null)
    {
        _transport = transport;
        _opener = opener;
        _accept = accept;
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

    /// <summary>Reads frames until the connection ends or <paramref name="cancellationToken"/> fires, then resets every stream.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
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
            _ = AcceptAsync(stream);
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
        _ = WriteRefusalAsync(stream.Id, answer);
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

    private async Task WriteRefusalAsync(uint id, ReadOnlyMemory<byte> answer)
    {
        var frames = ArrayPool<byte>.Shared.Rent(2 * HeaderSize + answer.Length);
        try
        {
            var length = WriteHeader(frames, FrameType.Data, answer.Length, id);
            answer.Span.CopyTo(frames.AsSpan(length));
            length += answer.Length;
            length += WriteHeader(frames.AsSpan(length), FrameType.Reset, 0, id);
            await _writeLock.WaitAsync(CancellationToken.None);
            try
            {
                if (!_closed.IsCancellationRequested)
                {
                    await _transport.WriteAsync(frames.AsMemory(0, length), CancellationToken.None);
                }
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException or System.Security.Authentication.AuthenticationException)
        {
            // A half-written frame would corrupt the trunk: it is closed, and every stream on it reset.
            Close();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frames);
            if (Interlocked.Decrement(ref _refusalsUnwritten) <= MaxRefusalsUnwritten / 2)
            {
                Volatile.Read(ref _refusalsWritten)?.TrySetResult();
            }
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

    /// <summary>The handler, with anything it throws kept in the task it returns, never thrown into the reader loop.</summary>
    private async Task AcceptAsync(TrunkStream stream)
    {
        await _accept!(stream);
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

    /// <summary>For frames nobody waits on (resets, credit): a failure already closes the trunk.</summary>
    internal async void Post(FrameType type, TrunkStream stream, int value = 0)
    {
        var payload = new byte[type == FrameType.Credit ? 4 : 0];
        if (type == FrameType.Credit)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload, value);
        }
        try
        {
            await WriteFrameAsync(type, stream, payload);
        }
        catch (IOException)
        {
            // The trunk is closed and every stream on it reset.
        }
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
        foreach (var stream in _streams.Values)
        {
            stream.OnReset();
        }
        _streams.Clear();
    }

    internal enum FrameType : byte
    {
        Data = 1,
        Fin = 2,
        Reset = 3,
        Credit = 4,
    }
}
