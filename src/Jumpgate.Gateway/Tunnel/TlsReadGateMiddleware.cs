using System.IO.Pipelines;
using Jumpgate.Core.Streams;
using Microsoft.AspNetCore.Connections;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// Kestrel connection middleware in front of TLS: the connection's transport lets a
/// <see cref="TlsReadGate"/> go while Kestrel's SslStream waits for bytes and before it sends, so
/// a tunnel connection can later be half-closed while it is read (<see cref="TlsStream"/>). The
/// gate is kept in the connection's features. HTTP connections never take it and pay one check
/// per read and per send.
/// </summary>
internal static class TlsReadGateMiddleware
{
    public static Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var gate = new TlsReadGate();
        connection.Features.Set(gate);
        connection.Transport = new Pipe(connection.Transport, gate);
        return next(connection);
    }

    private sealed class Pipe(IDuplexPipe inner, TlsReadGate gate) : IDuplexPipe
    {
        public PipeReader Input { get; } = new Reader(inner.Input, gate);

        public PipeWriter Output { get; } = new Writer(inner.Output, gate);
    }

    private sealed class Reader(PipeReader inner, TlsReadGate gate) : PipeReader
    {
        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            gate.Leave() ? ReadOutsideAsync(cancellationToken) : inner.ReadAsync(cancellationToken);

        private async ValueTask<ReadResult> ReadOutsideAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await inner.ReadAsync(cancellationToken);
            }
            finally
            {
                await gate.ReturnAsync();
            }
        }

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }

    /// <summary>A close_notify's send lets the gate go first (<see cref="TlsReadGate.LetGoForWrite"/>).</summary>
    private sealed class Writer(PipeWriter inner, TlsReadGate gate) : PipeWriter
    {
        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            gate.LetGoForWrite();
            return inner.FlushAsync(cancellationToken);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            gate.LetGoForWrite();
            return inner.WriteAsync(source, cancellationToken);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
