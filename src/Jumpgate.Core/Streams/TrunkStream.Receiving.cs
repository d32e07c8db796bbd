using System.Buffers;
using FrameType = Jumpgate.Core.Streams.Trunk.FrameType;

namespace Jumpgate.Core.Streams;

/// <summary>What arrives for a trunk stream: delivered by the trunk's reader, held in pooled chunks, taken by reads that give the sender credit back.</summary>
internal sealed partial class TrunkStream
{
    /// <summary>
    /// Copies what has arrived into <paramref name="buffer"/>, waiting if nothing has. Returns 0 at
    /// end of stream; a zero-length buffer waits for data without taking it (as a socket's does).
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task? wait = null;
            var credit = 0;
            var copied = 0;
            lock (_gate)
            {
                if (_buffered > 0)
                {
                    if (buffer.IsEmpty)
                    {
                        return 0;
                    }
                    copied = TakeReceived(buffer.Span);
                    // Credit in batches (a quarter window), not per read: fewer frames, same throughput.
                    if (_consumed >= Trunk.Window / 4 && !_finReceived && !_reset)
                    {
                        credit = _consumed;
                        _consumed = 0;
                    }
                }
                else if (_reset)
                {
                    throw new IOException("the stream was reset");
                }
                else if (_finReceived)
                {
                    return 0;
                }
                else
                {
                    wait = (_readable ??= new TaskCompletionSource()).Task;
                }
            }
            if (wait is not null)
            {
                await wait.WaitAsync(cancellationToken);
                continue;
            }
            if (credit > 0)
            {
                _trunk.Post(FrameType.Credit, this, credit);
            }
            return copied;
        }
    }

    /// <summary>Moves what has arrived into <paramref name="buffer"/>, returning chunks to the pool as they empty. Called under the lock.</summary>
    private int TakeReceived(Span<byte> buffer)
    {
        var copied = 0;
        while (copied < buffer.Length && _received.TryPeek(out var chunk))
        {
            var isTail = ReferenceEquals(chunk, _tail);
            var end = isTail ? _tailCount : ChunkSize;
            var take = Math.Min(end - _headOffset, buffer.Length - copied);
            chunk.AsSpan(_headOffset, take).CopyTo(buffer[copied..]);
            copied += take;
            _headOffset += take;
            if (_headOffset == end)
            {
                _received.Dequeue();
                _headOffset = 0;
                if (isTail)
                {
                    _tail = null;
                    _tailCount = 0;
                }
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
        _buffered -= copied;
        _consumed += copied;
        return copied;
    }

    /// <summary>Reader loop: data for this stream. False if the peer sent beyond its window.</summary>
    internal bool Deliver(ReadOnlySpan<byte> data)
    {
        TaskCompletionSource? reader;
        lock (_gate)
        {
            if (_reset || _finReceived)
            {
                return true;
            }
            if (_buffered + data.Length > Trunk.Window)
            {
                return false;
            }
            if (data.IsEmpty)
            {
                return true;
            }
            // One copy, into the tail chunk's free space and fresh chunks after it: what is held
            // follows what was sent, however the peer cut it into frames.
            _buffered += data.Length;
            while (!data.IsEmpty)
            {
                if (_tail is null || _tailCount == ChunkSize)
                {
                    _tail = ArrayPool<byte>.Shared.Rent(ChunkSize);
                    _tailCount = 0;
                    _received.Enqueue(_tail);
                }
                var take = Math.Min(data.Length, ChunkSize - _tailCount);
                data[..take].CopyTo(_tail.AsSpan(_tailCount));
                _tailCount += take;
                data = data[take..];
            }
            reader = Take(ref _readable);
        }
        reader?.TrySetResult();
        return true;
    }

    /// <summary>The trunk refused this new stream and answers it itself: drop what arrived, and end it here without a frame of its own.</summary>
    internal void Discard()
    {
        lock (_gate)
        {
            DropReceived();
        }
        OnReset();
    }

    private void DropReceived()
    {
        while (_received.TryDequeue(out var chunk))
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        _tail = null;
        _tailCount = 0;
        _headOffset = 0;
        _buffered = 0;
    }
}
