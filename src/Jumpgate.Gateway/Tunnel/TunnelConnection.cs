using System.Net.Security;
using Jumpgate.Core.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// A tunnel connection after its hello: Kestrel's connection for its lifetime and address, and
/// the connection's own <see cref="SslStream"/> for every byte after the hello. Kestrel's pipe
/// over TLS moves data in 4 KiB segments (one TLS record and one send each); writing to the
/// SslStream in large chunks fills 16 KiB records instead, which the benchmark showed is faster.
/// </summary>
internal sealed class TunnelConnection(ConnectionContext context, SslStream stream)
{
    public ConnectionContext Context { get; } = context;

    public SslStream Stream { get; } = stream;

    public string? Remote => Context.RemoteEndPoint?.ToString();

    /// <summary>Fires when the peer closes the connection.</summary>
    public CancellationToken Closed => Context.ConnectionClosed;

    /// <summary>Fires when the gateway is stopping and asks idle connections to close.</summary>
    public CancellationToken ClosingRequested =>
        Context.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;

    public ValueTask ReplyAsync(Reply reply, CancellationToken cancellationToken) =>
        Frame.WriteAsync(Stream, reply, ProtocolJson.Default.Reply, cancellationToken);

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

    public void Abort() => Context.Abort();
}
