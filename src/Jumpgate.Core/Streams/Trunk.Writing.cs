using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Jumpgate.Core.Background;

namespace Jumpgate.Core.Streams;

/// <summary>The trunk's writes: whole data frames under one lock, and resets, credit and refusals through one control writer.</summary>
internal sealed partial class Trunk
{
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

    /// <summary>
    /// Writes one whole frame; a failure closes the trunk, since a half-written frame would corrupt
    /// it. A stream's first frame opens it: it gets its id and its place in the table here, under
    /// the write lock, unless it was reset while it waited, in which case nothing is written and the
    /// peer never hears of it.
    /// </summary>
    internal async ValueTask WriteFrameAsync(FrameType type, TrunkStream stream, ReadOnlyMemory<byte> payload)
    {
        var frame = ArrayPool<byte>.Shared.Rent(HeaderSize + payload.Length);
        var opened = true;
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
                    opened = stream.TryOpen((uint)_lastId + 1);
                    if (opened)
                    {
                        _lastId++;
                        // Close may have gone through the table before the stream was in it.
                        if (_closed.IsCancellationRequested)
                        {
                            throw new IOException("the trunk connection is closed");
                        }
                    }
                }
                if (opened)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), stream.Id);
                    await _transport.WriteAsync(frame.AsMemory(0, HeaderSize + payload.Length), CancellationToken.None);
                }
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception e)
        {
            Close();
            // Close resets the streams in the table; one whose first frame failed is not in it yet.
            stream.OnReset();
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
        if (!opened)
        {
            throw new IOException("the stream was reset");
        }
    }

    /// <summary>Enters a stream in the table under its id (opener: <see cref="TrunkStream.TryOpen"/>; acceptor: the reader).</summary>
    internal void Enter(TrunkStream stream) => _streams[stream.Id] = stream;

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
}
