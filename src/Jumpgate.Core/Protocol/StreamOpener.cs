using Jumpgate.Core.Streams;

namespace Jumpgate.Core.Protocol;

/// <summary>
/// Where <see cref="StreamOpener"/> finds its trunks: the gateway takes an agent's least busy
/// trunk, `forward` its one trunk to the gateway (dialled when there is none).
/// </summary>
internal interface ITrunkSource
{
    /// <summary>A trunk to open the next stream on, waited for or dialled if there is none.</summary>
    ValueTask<Trunk> TakeAsync(CancellationToken cancellationToken);

    /// <summary>A trunk that could not carry a new stream's request (it died since it was taken): close it, say so, so the next take finds another.</summary>
    void Stale(Trunk trunk, Exception error);
}

/// <summary>
/// Opens a stream on a trunk, the same way on every leg: a new stream whose first frame is its
/// <see cref="OpenRequest"/> and whose first frame back is the far end's <see cref="Reply"/>. The
/// request goes out without waiting for the answer, so the user's first bytes can follow it on
/// the same round trip; a trunk found dead while the request is written is replaced by another.
/// </summary>
internal static class StreamOpener
{
    /// <summary>Writes <paramref name="request"/> on a new stream; null when every one of <paramref name="attempts"/> trunks turned out dead.</summary>
    public static async Task<TrunkStream?> StartAsync(ITrunkSource trunks, OpenRequest request, int attempts, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            var trunk = await trunks.TakeAsync(cancellationToken);
            var stream = trunk.Open();
            try
            {
                await Frame.WriteAsync(stream, request, ProtocolJson.Default.OpenRequest, cancellationToken);
                return stream;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
            {
                await stream.DisposeAsync();
                trunks.Stale(trunk, e);
            }
        }
        return null;
    }

    /// <summary>The far end's answer to <see cref="StartAsync"/>; an <see cref="IOException"/>, <see cref="EndOfStreamException"/> or <see cref="ProtocolException"/> if the stream broke first.</summary>
    public static ValueTask<Reply> ReadAnswerAsync(TrunkStream stream, CancellationToken cancellationToken) =>
        Frame.ReadAsync(stream, ProtocolJson.Default.Reply, cancellationToken);
}
