using Microsoft.AspNetCore.Connections;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// One idle, authenticated connection from an agent, waiting to carry the next stream.
/// Exactly one party wins it: a stream that takes it, or the idle watch that finds it closed.
/// </summary>
internal sealed class PooledConnection(ConnectionContext connection)
{
    private const int Idle = 0, Taken = 1, Dead = 2;
    private int _state;
    private readonly TaskCompletionSource _watchStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConnectionContext Connection { get; } = connection;

    /// <summary>Completes when the stream that took this connection is done with it.</summary>
    public Task Released => _released.Task;

    /// <summary>Claims the connection for a stream; false if it died or was taken first.</summary>
    public async ValueTask<bool> TryTakeAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Taken, Idle) != Idle)
        {
            return false;
        }
        // The idle watch holds a pending read; wake it and wait until it has let go of the pipe.
        Connection.Transport.Input.CancelPendingRead();
        await _watchStopped.Task;
        return true;
    }

    public void Release() => _released.TrySetResult();

    /// <summary>
    /// Reads the connection while it sits idle, so an agent that goes away is noticed at once.
    /// Returns true when a stream took the connection, false when it closed or misbehaved.
    /// </summary>
    public async Task<bool> WatchWhileIdleAsync(CancellationToken cancellationToken)
    {
        var input = Connection.Transport.Input;
        try
        {
            var result = await input.ReadAsync(cancellationToken);
            // Nothing is consumed: the stream that takes the connection reads the agent's reply from here.
            input.AdvanceTo(result.Buffer.Start);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The connection failed or the gateway is stopping; the state change below decides who owns it.
        }
        finally
        {
            _watchStopped.TrySetResult();
        }
        // An idle agent connection never speaks first: data, end of stream or an error all mean it is unusable.
        return Interlocked.CompareExchange(ref _state, Dead, Idle) == Taken;
    }
}
