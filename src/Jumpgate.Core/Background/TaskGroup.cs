namespace Jumpgate.Core.Background;

/// <summary>
/// Background work with an owner. Each task is started here and counted until it ends; whatever it
/// throws, other than the cancellation the owner asked for, goes to the owner's log once, where a
/// discarded task's exception would be lost. The owner stops the group when it stops itself:
/// cancel, then wait for every task to end, so nothing it started outlives it.
/// </summary>
internal sealed class TaskGroup : IAsyncDisposable
{
    private readonly Action<Exception> _failed;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private int _running;
    private TaskCompletionSource? _idle;

    /// <param name="failed">Told of each task that ended with an exception; the owner logs it with its own words.</param>
    public TaskGroup(Action<Exception> failed)
    {
        ArgumentNullException.ThrowIfNull(failed);
        _failed = failed;
    }

    /// <summary>Cancelled when the owner stops the group (at once, or after <see cref="StopAsync"/>'s grace).</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Tasks started and not yet ended.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> now, on this thread until its first wait (as a direct call
    /// would), with <see cref="Stopping"/> as its token. Work started after the group stopped gets
    /// a cancelled token and is not waited for.
    /// </summary>
    public void Start(Func<CancellationToken, Task> work) => Start(static (work, stopping) => work(stopping), work);

    /// <summary><see cref="Start(Func{CancellationToken, Task})"/> with the work's state passed in, so a caller on a hot path allocates no closure.</summary>
    public void Start<TState>(Func<TState, CancellationToken, Task> work, TState state)
    {
        lock (_gate)
        {
            _running++;
        }
        // Never faults: RunAsync hands every exception to the owner and counts the task's end.
        _ = RunAsync(work, state);
    }

    private async Task RunAsync<TState>(Func<TState, CancellationToken, Task> work, TState state)
    {
        try
        {
            await work(state, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Stopped as the owner asked.
        }
        catch (Exception e)
        {
            _failed(e);
        }
        finally
        {
            TaskCompletionSource? idle = null;
            lock (_gate)
            {
                if (--_running == 0)
                {
                    (idle, _idle) = (_idle, null);
                }
            }
            idle?.TrySetResult();
        }
    }

    /// <summary>Ends once no task runs.</summary>
    private Task WhenIdleAsync()
    {
        lock (_gate)
        {
            return _running == 0 ? Task.CompletedTask : (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>
    /// Lets the work end by itself for up to <paramref name="grace"/>, then cancels <see cref="Stopping"/>
    /// and waits for what is left to unwind.
    /// </summary>
    public async Task StopAsync(TimeSpan grace, TimeProvider time)
    {
        if (grace > TimeSpan.Zero)
        {
            try
            {
                await WhenIdleAsync().WaitAsync(grace, time);
            }
            catch (TimeoutException)
            {
                // The grace is over: what is left is cancelled below.
            }
        }
        await _stopping.CancelAsync();
        await WhenIdleAsync();
    }

    /// <summary>Cancels <see cref="Stopping"/> and waits for every task to end.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.Zero, TimeProvider.System);
}
