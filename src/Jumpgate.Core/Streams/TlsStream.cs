using System.Net.Security;

namespace Jumpgate.Core.Streams;

/// <summary>
/// A TLS connection that may be half-closed while it is being read: reads go through its
/// <see cref="TlsReadGate"/>, and <see cref="CloseOutputAsync"/> sends the close_notify only while no
/// decrypt runs. Every TLS connection Jumpgate splices is one of these.
/// </summary>
internal sealed class TlsStream : ConnectionStream
{
    private readonly TlsReadGate _gate;

    /// <summary>Wraps an SslStream whose transport already calls <paramref name="gate"/> around its waits (the gateway's Kestrel connections).</summary>
    public TlsStream(SslStream tls, TlsReadGate gate)
    {
        Tls = tls;
        _gate = gate;
    }

    /// <summary>A new TLS connection over <paramref name="transport"/>, to be authenticated through <see cref="Tls"/>.</summary>
    public static TlsStream Over(Stream transport)
    {
        var gate = new TlsReadGate();
        return new TlsStream(new SslStream(new GatedTransport(transport, gate)), gate);
    }

    public SslStream Tls { get; }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.EnterReadAsync(cancellationToken);
        try
        {
            return await Tls.ReadAsync(buffer, cancellationToken);
        }
        finally
        {
            _gate.ExitRead();
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => Tls.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Tls.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Tls.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => Tls.FlushAsync(cancellationToken);

    public override void Flush() => Tls.Flush();

    /// <summary>close_notify: the peer's reads end, this side's go on.</summary>
    public override ValueTask CloseOutputAsync() => new(_gate.ShutdownAsync(Tls));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Tls.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Tls.DisposeAsync();
    }

    /// <summary>The SslStream's own transport: lets the gate go while it waits for bytes.</summary>
    private sealed class GatedTransport(Stream inner, TlsReadGate gate) : ConnectionStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            gate.Leave() ? ReadOutsideAsync(buffer, cancellationToken) : inner.ReadAsync(buffer, cancellationToken);

        private async ValueTask<int> ReadOutsideAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            try
            {
                return await inner.ReadAsync(buffer, cancellationToken);
            }
            finally
            {
                await gate.ReturnAsync();
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // Synchronous reads happen only outside gated reads (never in Jumpgate), so they need no gate.
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            gate.LetGoForWrite();
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            gate.LetGoForWrite();
            inner.Write(buffer, offset, count);
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            gate.LetGoForWrite();
            return inner.FlushAsync(cancellationToken);
        }

        public override void Flush()
        {
            gate.LetGoForWrite();
            inner.Flush();
        }

        /// <summary>Under TLS the end is a close_notify, which <see cref="TlsStream"/> sends; its transport never half-closes alone.</summary>
        public override ValueTask CloseOutputAsync() => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync()
        {
            GC.SuppressFinalize(this);
            return inner.DisposeAsync();
        }
    }
}
