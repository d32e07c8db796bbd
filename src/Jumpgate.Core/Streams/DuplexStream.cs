namespace Jumpgate.Core.Streams;

/// <summary>
/// Two one-way streams (stdin and stdout) presented as one duplex stream. Reads honour
/// cancellation even though a console read cannot be interrupted: the blocked read is left
/// behind, which is fine because the process is about to exit.
/// </summary>
internal sealed class DuplexStream(Stream input, Stream output) : ConnectionStream
{
    /// <summary>Passes end of stream on by closing the output half, as a socket's shutdown(SHUT_WR) would.</summary>
    public override ValueTask CloseOutputAsync() => output.DisposeAsync();

    /// <summary>A console read cannot be woken by a zero-byte read: it returns at once.</summary>
    public override bool ZeroByteReadWaits => false;

    public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.IsEmpty ? 0 : await input.ReadAsync(buffer, CancellationToken.None).AsTask().WaitAsync(cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        output.WriteAsync(buffer, cancellationToken);

    public override void Flush() => output.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);
}
