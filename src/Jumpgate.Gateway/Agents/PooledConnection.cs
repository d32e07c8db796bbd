using Jumpgate.Gateway.Tunnel;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// One idle, authenticated connection from an agent, waiting to carry the next stream.
/// Exactly one party wins it: a stream that takes it, or the idle wait that sees it close.
/// </summary>
internal sealed class PooledConnection(TunnelConnection connection)
{
    private const int Idle = 0, Taken = 1, Dead = 2;
    private int _state;
    private readonly TaskCompletionSource _taken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TunnelConnection Connection { get; } = connection;

    /// <summary>Completes when the stream that took this connection is done with it.</summary>
    public Task Released => _released.Task;

    /// <summary>Claims the connection for a stream; false if it died or was taken first.</summary>
    public bool TryTake()
    {
        if (Interlocked.CompareExchange(ref _state, Taken, Idle) != Idle)
        {
            return false;
        }
        _taken.TrySetResult();
        return true;
    }

    public void Release() => _released.TrySetResult();

    /// <summary>
    /// Waits while the connection sits idle. Kestrel's transport keeps receiving underneath, so a
    /// connection the agent closes fires <paramref name="cancellationToken"/> (via ConnectionClosed)
    /// without anyone reading it here. Returns true when a stream took the connection.
    /// </summary>
    public async Task<bool> WaitWhileIdleAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _taken.Task.WaitAsync(cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            // Closed, session ended or gateway stopping: it is dead unless a stream took it in the same instant.
            return Interlocked.CompareExchange(ref _state, Dead, Idle) == Taken;
        }
    }
}
