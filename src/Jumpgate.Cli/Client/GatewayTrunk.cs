using Jumpgate.Core.Background;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;

namespace Jumpgate.Cli.Client;

/// <summary>
/// One connection to the gateway that carries every stream `forward` opens, so a new stream
/// costs no handshake and no round trip of its own (what the agent's trunks do on the other leg). A trunk
/// found closed (the gateway restarted, or it was idle) is replaced by a fresh dial on the next stream.
/// Each trunk's reader runs until it closes or this is disposed, which waits for it; <paramref name="failed"/> hears of one that failed.
/// Given several gateways, each dial goes to the first that answers, so a gateway that died is replaced by the next;
/// <paramref name="reached"/> hears which one each dial reached.
/// </summary>
internal sealed class GatewayTrunk(IReadOnlyList<GatewayEndpoint> gateways, string token, Action<Exception> failed, Action<GatewayEndpoint>? reached = null) : ITrunkSource, IAsyncDisposable
{
    public GatewayTrunk(GatewayEndpoint gateway, string token, Action<Exception> failed) : this([gateway], token, failed)
    {
    }

    /// <summary>The gateway the trunk was last dialled to (a direct stream's leg goes there too).</summary>
    public GatewayEndpoint Gateway { get; private set; } = gateways[0];

    /// <summary>How long the trunk may have no streams before this end closes it: three quarters of the gateway's idle timeout, from its last answer.</summary>
    public TimeSpan IdleTimeout { get; private set; } = Timeout.InfiniteTimeSpan;

    /// <summary>With `login --sso`: the token for each new dial, renewed when due (a `forward` outlives its first token); null dials with the token given.</summary>
    public Func<CancellationToken, Task<string>>? CurrentToken { get; init; }

    private readonly SemaphoreSlim _dialing = new(1, 1);
    private readonly TaskGroup _readers = new(failed);
    private Trunk? _trunk;

    /// <summary>
    /// Opens a stream to <paramref name="host"/>:<paramref name="service"/> without waiting for the
    /// gateway's answer, so the first bytes go out on the same round trip as the request (the
    /// gateway holds them until it has authorised the stream). Read the answer with
    /// <see cref="ReadAnswerAsync"/> before anything is read from the stream. A direct <paramref name="path"/>
    /// stream's answer carries its ticket instead (docs/protocol.md, "Direct streams"), a direct
    /// session's when <paramref name="session"/> asks for one and the agent serves them.
    /// </summary>
    public async Task<TrunkStream> StartAsync(string host, string service, CancellationToken cancellationToken, StreamPathChoice? path = null, bool session = false)
    {
        // A trunk that died since it was dialled (the gateway restarted) is closed and gets one fresh dial.
        var request = new OpenRequest
        {
            Host = host, Service = service, Direct = path?.Direct ?? false, Plain = path?.Plain ?? false, Fallback = path?.Fallback ?? false,
            Session = session && (path?.Direct ?? false),
        };
        return await StreamOpener.StartAsync(this, request, attempts: 2, cancellationToken) ?? throw ClosedWhileOpening(null);
    }

    /// <summary>The gateway's answer to <see cref="StartAsync"/>; throws <see cref="GatewayException"/> with its reason if it refused.</summary>
    public async Task<Reply> ReadAnswerAsync(TrunkStream stream, CancellationToken cancellationToken)
    {
        Reply reply;
        try
        {
            reply = await StreamOpener.ReadAnswerAsync(stream, cancellationToken);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or ObjectDisposedException)
        {
            throw ClosedWhileOpening(e);
        }
        if (!reply.Ok)
        {
            throw new GatewayException(reply.Error ?? "the gateway refused the connection", refused: true);
        }
        return reply;
    }

    ValueTask<Trunk> ITrunkSource.TakeAsync(CancellationToken cancellationToken) => new(CurrentAsync(cancellationToken));

    void ITrunkSource.Stale(Trunk trunk, Exception error) => trunk.Close();

    private GatewayException ClosedWhileOpening(Exception? inner) => new($"gateway {Gateway} closed the connection while the stream opened", inner: inner);

    /// <summary>The open trunk, dialled now if there is none.</summary>
    private async Task<Trunk> CurrentAsync(CancellationToken cancellationToken)
    {
        if (_trunk is { IsOpen: true } open)
        {
            return open;
        }
        await _dialing.WaitAsync(cancellationToken);
        try
        {
            if (_trunk is { IsOpen: true } dialled)
            {
                return dialled;
            }
            var hello = new Hello { Type = HelloType.UserTrunk, Token = CurrentToken is null ? token : await CurrentToken(cancellationToken) };
            var (tls, reply, gateway) = await GatewayDialer.HandshakeAsync(gateways, hello, cancellationToken);
            Gateway = gateway;
            reached?.Invoke(gateway);
            // Closed here a quarter before the gateway's idle timeout, so a new stream never races
            // the gateway's close: it finds the trunk closed and dials a fresh one.
            IdleTimeout = reply.IdleTimeoutMs > 0 ? TimeSpan.FromMilliseconds(reply.IdleTimeoutMs * 3 / 4) : Timeout.InfiniteTimeSpan;
            var trunk = new Trunk(tls, opener: true) { IdleTimeout = IdleTimeout };
            _readers.Start(trunk.RunAsync);
            _trunk = trunk;
            return trunk;
        }
        finally
        {
            _dialing.Release();
        }
    }

    /// <summary>Closes the trunk, resetting its streams, and waits for its reader to end.</summary>
    public async ValueTask DisposeAsync()
    {
        _trunk?.Close();
        await _readers.DisposeAsync();
    }
}
