using Jumpgate.Core.Background;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;

namespace Jumpgate.Cli.Client;

/// <summary>
/// `forward`'s direct session (docs/protocol.md, "Direct sessions"): one pair of direct legs, TLS
/// end to end with the agent, with a trunk inside on which each local connection is one more
/// stream to the service, the shape of ssh -J's channels inside one SSH session. The gateway
/// authorised the session once; the agent tells it of every stream. One connection at a time asks
/// for a session and the others wait for its answer; after an answer without one (an agent that
/// serves none) connections go on legs of their own for a while before one asks again. A session
/// that dies is replaced when the next connection asks.
/// </summary>
internal sealed class DirectSession(Action<Exception> failed) : IAsyncDisposable
{
    /// <summary>How long after an answer without a session connections stop asking for one (an agent may be updated, or another replica chosen).</summary>
    private static readonly TimeSpan AskAgainAfter = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _asking = new(1, 1);
    private readonly TaskGroup _readers = new(failed);
    private Trunk? _trunk;
    private int _maxStreams;
    private long _askAgainAt;

    /// <summary>Whether a session is open now (one whose legs the gateway closed is not, once its reader saw them end).</summary>
    public bool IsOpen => _trunk is { IsOpen: true };

    /// <summary>
    /// How many streams the open session may hold (the gateway's per-trunk limit, 0 where the gateway did
    /// not say), and whether it holds that many now: a new connection then goes on legs of its own, since
    /// asking for a second session would replace this one and end its streams. A stream that closes at the
    /// agent a moment after here can still make the agent refuse one, in the gateway's words.
    /// </summary>
    public int MaxStreams => _maxStreams;

    /// <summary>Whether the open session holds <see cref="MaxStreams"/> streams now.</summary>
    public bool IsFull => _trunk is { IsOpen: true } trunk && _maxStreams > 0 && trunk.StreamCount >= _maxStreams;

    /// <summary>Whether a connection with no session to join should ask for one.</summary>
    public bool WorthAsking => Environment.TickCount64 >= Interlocked.Read(ref _askAgainAt);

    /// <summary>A new stream in the open session, its request written and its first bytes free to follow; null when no session is open.</summary>
    public async Task<TrunkStream?> TryStartAsync(string host, string service, CancellationToken cancellationToken)
    {
        if (_trunk is not { IsOpen: true } trunk || IsFull)
        {
            return null;
        }
        var stream = trunk.Open();
        try
        {
            // The agent joins every stream to the service its session is bound to; the request only says which, for the record.
            await Frame.WriteAsync(stream, new OpenRequest { Host = host, Service = service }, ProtocolJson.Default.OpenRequest, cancellationToken);
            return stream;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            // Died since it was last used (the agent went away): the next ask makes another.
            await stream.DisposeAsync();
            trunk.Close();
            return null;
        }
    }

    /// <summary>The right to ask for a session, one connection at a time; dispose it once the answer is in.</summary>
    public async Task<IDisposable> AskAsync(CancellationToken cancellationToken)
    {
        await _asking.WaitAsync(cancellationToken);
        return new Turn(_asking);
    }

    /// <summary>The gateway answered without a session: stop asking for a while.</summary>
    public void Declined() => Interlocked.Exchange(ref _askAgainAt, Environment.TickCount64 + (long)AskAgainAfter.TotalMilliseconds);

    /// <summary>
    /// Joins the session the gateway gave a ticket for, and opens the first stream in it. With no
    /// streams for <paramref name="idleTimeout"/> the session is closed here, as `forward`'s trunk is
    /// (an idle `forward` holds nothing open at the gateway); the next connection asks for another.
    /// </summary>
    public async Task<TrunkStream> JoinAsync(GatewayEndpoint gateway, DirectTicket ticket, TimeSpan idleTimeout, string host, string service, CancellationToken cancellationToken)
    {
        var tls = await DirectLeg.ConnectAsUserAsync(gateway, ticket, cancellationToken);
        var trunk = new Trunk(tls, opener: true) { IdleTimeout = idleTimeout };
        _readers.Start(trunk.RunAsync);
        _maxStreams = ticket.MaxStreams;
        // A session replaced here was found dead; its streams, if any are left, end with it.
        Interlocked.Exchange(ref _trunk, trunk)?.Close();
        return await TryStartAsync(host, service, cancellationToken)
            ?? throw new GatewayException($"the direct session through gateway {gateway} closed as it opened");
    }

    /// <summary>Closes the session, resetting its streams, and waits for its reader to end.</summary>
    public async ValueTask DisposeAsync()
    {
        _trunk?.Close();
        await _readers.DisposeAsync();
    }

    private sealed class Turn(SemaphoreSlim asking) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                asking.Release();
            }
        }
    }
}
