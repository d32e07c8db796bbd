using System.Buffers;
using Jumpgate.Core.Streams;
using Microsoft.AspNetCore.Connections;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// A direct stream's leg (a plain TCP connection that Kestrel accepted) as a
/// <see cref="ConnectionStream"/>, so <see cref="Splice"/> relays it like any other. Its end is
/// passed on by completing Kestrel's output pipe, which closes the leg: connection middleware
/// cannot half-close a socket, and the ends half-close inside their TLS instead.
/// </summary>
internal sealed class LegStream(ConnectionContext leg) : ConnectionStream
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var input = leg.Transport.Input;
        var result = await input.ReadAsync(cancellationToken);
        var data = result.Buffer;
        if (result.IsCanceled)
        {
            input.AdvanceTo(data.Start);
            throw new OperationCanceledException("the leg's read was cancelled");
        }
        // A zero-byte read waits for data without taking it: nothing is consumed or examined, so the next read returns at once.
        var count = (int)Math.Min(buffer.Length, data.Length);
        data.Slice(0, count).CopyTo(buffer.Span);
        input.AdvanceTo(data.GetPosition(count));
        return count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if ((await leg.Transport.Output.WriteAsync(buffer, cancellationToken)).IsCompleted)
        {
            throw new IOException("the direct leg has closed");
        }
    }

    public override ValueTask CloseOutputAsync() => leg.Transport.Output.CompleteAsync();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }
}
