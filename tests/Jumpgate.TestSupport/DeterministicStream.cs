namespace Jumpgate.TestSupport;

/// <summary>
/// A read-only stream of <see cref="DeterministicBytes"/>, generated as it is read: an upload of
/// gigabytes as a request body without a file or a buffer of that size.
/// </summary>
public sealed class DeterministicStream(long length, long seed) : Stream
{
    private readonly byte[] _block = new byte[DeterministicBytes.BlockSize];
    private long _blockStart = -1;
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_position >= length || buffer.IsEmpty)
        {
            return 0;
        }
        // Generate whole blocks (their offsets are multiples of 8, as Fill needs) and hand them out piecewise.
        var blockStart = _position - _position % DeterministicBytes.BlockSize;
        if (blockStart != _blockStart)
        {
            DeterministicBytes.Fill(_block, blockStart, seed);
            _blockStart = blockStart;
        }
        var within = (int)(_position - blockStart);
        var take = (int)Math.Min(Math.Min(buffer.Length, _block.Length - within), length - _position);
        _block.AsSpan(within, take).CopyTo(buffer);
        _position += take;
        return take;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
