using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// A tunnel connection after its hello, or one stream on a user's trunk: the bytes, where they
/// come from, when they end, and how to cut them. A connection is used through its own
/// <see cref="System.Net.Security.SslStream"/> (as a <see cref="Core.Streams.TlsStream"/>, so it can
/// be half-closed while it is read), not Kestrel's pipe: the pipe over TLS moves data
/// in 4 KiB segments (one TLS record and one send each); writing to the SslStream in large
/// chunks fills 16 KiB records instead, which the benchmark showed is faster.
/// </summary>
/// <remarks>
/// An exposed port's connection is not <paramref name="framed"/>: its peer speaks the service's
/// own protocol (an ssh client), so the gateway's answers are never written to it; a refusal
/// is told by closing it.
/// </remarks>
internal sealed class TunnelConnection(ConnectionStream stream, string? remote, CancellationToken closed, CancellationToken closingRequested, Action abort, bool framed = true)
{
    public static TunnelConnection Of(ConnectionContext context, ConnectionStream tls) => new(
        tls,
        context.RemoteEndPoint?.ToString(),
        context.ConnectionClosed,
        context.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None,
        context.Abort);

    public ConnectionStream Stream { get; } = stream;

    public string? Remote { get; } = remote;

    /// <summary>Fires when the peer closes the connection.</summary>
    public CancellationToken Closed { get; } = closed;

    /// <summary>Fires when the gateway is stopping and asks idle connections to close.</summary>
    public CancellationToken ClosingRequested { get; } = closingRequested;

    public ValueTask ReplyAsync(Reply reply, CancellationToken cancellationToken) =>
        framed ? Frame.WriteAsync(Stream, reply, ProtocolJson.Default.Reply, cancellationToken) : ValueTask.CompletedTask;

    /// <summary>Tells the peer why it is refused; a peer already gone is not an error.</summary>
    public async Task RefuseAsync(string error)
    {
        try
        {
            await ReplyAsync(Reply.Failure(error), CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer is already gone; there is nobody left to tell.
        }
    }

    public void Abort() => abort();
}
