using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Jumpgate.Core.Background;

namespace Jumpgate.Core.Streams;

/// <summary>The trunk's reader loop: one frame at a time, dispatched to its stream without ever waiting on a write.</summary>
internal sealed partial class Trunk
{
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
            Enter(stream);
            // Closed since (by a handler of a stream before it in the buffer, or on another thread), Close
            // may have gone through the table before this stream was in it: nobody would ever reset it.
            if (_closed.IsCancellationRequested)
            {
                stream.Discard();
                return;
            }
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
}
