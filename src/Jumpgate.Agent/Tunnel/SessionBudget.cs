namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// The places a gateway granted one direct session for new streams (docs/protocol.md, "Direct
/// sessions"): places it holds of the user's room, so that the agent opens a stream without asking
/// and still keeps the user's limit before a byte reaches the service. A stream takes one; when none
/// is left, streams wait while the agent asks for more, and are refused in the gateway's words if it
/// has none. The gateway tops the grant up as streams open, so asking is the exception.
/// </summary>
internal sealed class SessionBudget(long? granted)
{
    private readonly Lock _gate = new();
    private readonly Queue<TaskCompletionSource<string?>> _waiting = [];

    // A running total, as the gateway sends it; null from a gateway that grants none (its limits act after the fact).
    private long? _granted = granted;
    private long _spent;
    private int _taking;
    private bool _asked;

    private long Left => _granted is { } granted ? granted - _spent - _taking : long.MaxValue;

    /// <summary>
    /// Takes a place for a new stream: null when it may open (then <see cref="Taken"/> must follow), else why
    /// not, in the gateway's words. With none left, <paramref name="ask"/> asks the gateway for more
    /// (once for all that wait, naming the running total it needs) and this waits up to
    /// <paramref name="patience"/> for its answer.
    /// </summary>
    public async Task<string?> TakeAsync(Action<long> ask, TimeSpan patience, CancellationToken cancellationToken)
    {
        TaskCompletionSource<string?> waiter;
        long? asking = null;
        lock (_gate)
        {
            if (Left > 0)
            {
                _taking++;
                return null;
            }
            waiter = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(waiter);
            if (!_asked)
            {
                _asked = true;
                asking = Needed;
            }
        }
        if (asking is { } needed)
        {
            ask(needed);
        }
        try
        {
            return await waiter.Task.WaitAsync(patience, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            lock (_gate)
            {
                if (!waiter.Task.IsCompleted)
                {
                    // Still waiting: leaves the queue (the place, if one comes, goes to the next).
                    waiter.TrySetResult(e is TimeoutException
                        ? $"the gateway granted this direct session no place for a new stream within {patience.TotalSeconds:0} s; try again"
                        : "the agent is stopping");
                    if (!_waiting.Any(w => !w.Task.IsCompleted))
                    {
                        _asked = false;
                    }
                }
            }
            return await waiter.Task;
        }
    }

    /// <summary>A place taken by <see cref="TakeAsync"/> is done with: spent on a stream that opened, or given back.</summary>
    public void Taken(bool opened)
    {
        lock (_gate)
        {
            _taking--;
            if (opened)
            {
                _spent++;
            }
            else
            {
                WakeWaiting();
            }
        }
    }

    /// <summary>
    /// The gateway's grant: <paramref name="total"/> places in all so far, and with none to spare, the
    /// user's limit in <paramref name="refusal"/>, which the streams still waiting are refused with.
    /// Returns the running total to ask the gateway for when streams still wait for more, else null.
    /// </summary>
    public long? Grant(long total, string? refusal)
    {
        lock (_gate)
        {
            if (_granted is null || total > _granted)
            {
                _granted = total;
            }
            _asked = false;
            WakeWaiting();
            if (!_waiting.Any(w => !w.Task.IsCompleted))
            {
                _waiting.Clear();
                return null;
            }
            if (refusal is not null)
            {
                while (_waiting.TryDequeue(out var waiter))
                {
                    waiter.TrySetResult(refusal);
                }
                return null;
            }
            _asked = true;
            return Needed;
        }
    }

    /// <summary>The running total to ask for again when streams wait (their ask or its answer may have gone with a control connection), else null.</summary>
    public long? Waiting()
    {
        lock (_gate)
        {
            return _waiting.Any(w => !w.Task.IsCompleted) ? Needed : null;
        }
    }

    /// <summary>The places the session needs in all now: those spent, those being taken, and one for each stream that waits; under the lock.</summary>
    private long Needed => _spent + _taking + _waiting.Count(w => !w.Task.IsCompleted);

    /// <summary>Hands the places left to the streams waiting, first come first served; under the lock.</summary>
    private void WakeWaiting()
    {
        while (Left > 0 && _waiting.TryDequeue(out var waiter))
        {
            // One that gave up already takes nothing.
            if (!waiter.Task.IsCompleted)
            {
                _taking++;
                waiter.TrySetResult(null);
            }
        }
    }
}
