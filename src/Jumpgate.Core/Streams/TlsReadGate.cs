using System.Net.Security;

namespace Jumpgate.Core.Streams;

/// <summary>
/// Keeps a TLS connection's close_notify out of its decrypts. .NET on Linux sends a close_notify
/// with two <c>SSL_shutdown</c> calls, and the second reads from the same OpenSSL <c>SSL</c> that a
/// concurrent <see cref="SslStream.ReadAsync(Memory{byte}, CancellationToken)"/> may be decrypting
/// with. Half-closing a connection that still carries data the other way then broke about one in
/// 200 times: "decryption failed or bad record mac", a peer's close_notify swallowed (the reader
/// waits forever) or glibc aborting on a corrupted heap (docs/decisions.md, "A half-close waits for
/// the decrypt"). A read holds the gate while it works on what arrived and lets go while it waits
/// for bytes (<see cref="Leave"/> and <see cref="ReturnAsync"/>, called by the transport under the
/// SslStream); the close_notify takes the gate, so it runs only while the reader waits, and lets it
/// go once OpenSSL has made it (<see cref="LetGoForWrite"/>), so a send that blocks on a peer that
/// is not reading never keeps this end from reading.
/// </summary>
internal sealed class TlsReadGate
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    // Touched only by the one reader (and the transport reads it drives), never by the shutdown.
    private bool _held;

    // Touched only by the one writer, whose last act the close_notify is.
    private bool _shutdownHolds;

    public async ValueTask EnterReadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        _held = true;
    }

    public void ExitRead()
    {
        if (_held)
        {
            _held = false;
            _gate.Release();
        }
    }

    /// <summary>The transport is about to wait for bytes: lets go if a read holds the gate. True if it did.</summary>
    public bool Leave()
    {
        if (!_held)
        {
            // Not inside a gated read (the handshake, Kestrel's own HTTP reads): nothing to let go.
            return false;
        }
        _held = false;
        _gate.Release();
        return true;
    }

    /// <summary>Bytes arrived (or the wait failed): takes the gate back before the SslStream decrypts them.</summary>
    public async ValueTask ReturnAsync()
    {
        await _gate.WaitAsync(CancellationToken.None);
        _held = true;
    }

    /// <summary>Sends a close_notify while no decrypt runs.</summary>
    public async Task ShutdownAsync(SslStream tls)
    {
        await _gate.WaitAsync(CancellationToken.None);
        _shutdownHolds = true;
        try
        {
            await tls.ShutdownAsync();
        }
        finally
        {
            LetGoForWrite();
        }
    }

    /// <summary>
    /// The transport is about to send: a close_notify is made by now, so its send need not hold the
    /// gate. The send is the close_notify's own because a stream has one writer at a time, as a
    /// socket does, and the close_notify is that writer's last act (Splice sends it after its last
    /// write); a write beside it would open the gate early.
    /// </summary>
    public void LetGoForWrite()
    {
        if (_shutdownHolds)
        {
            _shutdownHolds = false;
            _gate.Release();
        }
    }
}
