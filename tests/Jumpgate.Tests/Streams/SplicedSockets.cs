using System.Net.Sockets;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// Two real loopback TCP connections joined by a splice: <c>left ⇄ [first ⇄ splice ⇄ second] ⇄ right</c>,
/// where the test plays the peers at the left (the user) and right (the service) ends and chooses how the splice runs.
/// </summary>
internal sealed class SplicedSockets : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = Signals.Timeout(30);

    private readonly CancellationTokenSource _cancel = new();

    private SplicedSockets(Socket left, SocketStream first, SocketStream second, Socket right)
    {
        (Left, First, Second, Right) = (left, first, second, right);
    }

    public Socket Left { get; }
    public SocketStream First { get; }
    public SocketStream Second { get; }
    public Socket Right { get; }
    public Task<SpliceResult> Splice { get; private set; } = null!;

    /// <summary>Connects both pairs and starts <paramref name="splice"/> on the middle streams, with a token that <see cref="CancelAsync"/> fires.</summary>
    public static async Task<SplicedSockets> StartAsync(Func<SplicedSockets, CancellationToken, Task<SpliceResult>> splice)
    {
        var (left, first) = await LoopbackSockets.ConnectAsync();
        var (second, right) = await LoopbackSockets.ConnectAsync();
        var sockets = new SplicedSockets(left, new SocketStream(first), new SocketStream(second), right);
        sockets.Splice = splice(sockets, sockets._cancel.Token);
        return sockets;
    }

    public Task CancelAsync() => _cancel.CancelAsync();

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        await Splice.WaitAsync(Timeout);
        await First.DisposeAsync();
        await Second.DisposeAsync();
        Left.Dispose();
        Right.Dispose();
        _cancel.Dispose();
    }
}
