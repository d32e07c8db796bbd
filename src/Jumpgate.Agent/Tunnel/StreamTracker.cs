namespace Jumpgate.Agent.Tunnel;

/// <summary>The streams running now, so a stop can let them finish and then cut the rest.</summary>
internal sealed class StreamTracker
{
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _running = [];
    private readonly CancellationTokenSource _abort = new();

    /// <summary>Cancelled when the drain deadline passes.</summary>
    public CancellationToken Aborted => _abort.Token;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _running.Count;
            }
        }
    }

    public void Track(Task stream)
    {
        lock (_gate)
        {
            _running.Add(stream);
        }
        _ = stream.ContinueWith(done =>
        {
            lock (_gate)
            {
                _running.Remove(done);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits for running streams up to <paramref name="deadline"/>, then cancels what is left and waits for it to unwind.</summary>
    public async Task DrainAsync(TimeSpan deadline, TimeProvider time)
    {
        Task[] running;
        lock (_gate)
        {
            running = [.. _running];
        }
        var all = Task.WhenAll(running);
        await Task.WhenAny(all, Task.Delay(deadline, time));
        await _abort.CancelAsync();
        await all;
    }
}
