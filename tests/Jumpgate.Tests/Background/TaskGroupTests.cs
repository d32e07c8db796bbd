using System.Collections.Concurrent;
using Jumpgate.Core.Background;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Background;

public sealed class TaskGroupTests
{
    private static readonly TimeSpan Timeout = Signals.Timeout(30);

    private readonly ConcurrentQueue<Exception> _failures = new();

    [Fact]
    public async Task EachFailureReachesTheOwnerOnceWhetherThrownAtOnceOrLater()
    {
        var atOnce = new InvalidOperationException("at once");
        var later = new InvalidOperationException("later");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var group = new TaskGroup(_failures.Enqueue);

        group.Start(_ => throw atOnce);
        group.Start(async _ =>
        {
            await release.Task;
            throw later;
        });
        Assert.Equal<Exception>([atOnce], _failures);
        Assert.Equal(1, group.Count);

        release.TrySetResult();
        await group.DisposeAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal<Exception>([atOnce, later], _failures);
        Assert.Equal(0, group.Count);
    }

    [Fact]
    public async Task DisposingCancelsEveryTaskAndReturnsOnlyOnceEachHasEnded()
    {
        var group = new TaskGroup(_failures.Enqueue);
        var ended = 0;
        for (var i = 0; i < 3; i++)
        {
            group.Start(async stopping =>
            {
                try
                {
                    await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, stopping);
                }
                finally
                {
                    // Unwinding takes a wait of its own (closing a connection, say): dispose waits for it.
                    await Task.Yield();
                    Interlocked.Increment(ref ended);
                }
            });
        }
        Assert.Equal(3, group.Count);

        await group.DisposeAsync().AsTask().WaitAsync(Timeout);

        Assert.Equal(3, Volatile.Read(ref ended));
        Assert.Equal(0, group.Count);
        // Cancelled because the owner stopped: not a failure.
        Assert.Empty(_failures);
    }

    [Fact]
    public async Task StoppingWithAGraceLetsWorkEndByItselfBeforeCancellingAnything()
    {
        var group = new TaskGroup(_failures.Enqueue);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelledFirst = true;
        group.Start(async stopping =>
        {
            await release.Task;
            cancelledFirst = stopping.IsCancellationRequested;
        });

        var stopping = group.StopAsync(TimeSpan.FromMinutes(5), TimeProvider.System);
        Assert.False(stopping.IsCompleted);
        Assert.False(group.Stopping.IsCancellationRequested);

        release.TrySetResult();
        await stopping.WaitAsync(Timeout);
        Assert.False(cancelledFirst, "the work was cancelled although it ended within its grace");
        Assert.True(group.Stopping.IsCancellationRequested);
    }

    [Fact]
    public async Task StoppingCancelsWhatOutlastsItsGrace()
    {
        var group = new TaskGroup(_failures.Enqueue);
        var cancelled = false;
        group.Start(async stopping =>
        {
            try
            {
                await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, stopping);
            }
            catch (OperationCanceledException)
            {
                cancelled = true;
                throw;
            }
        });

        await group.StopAsync(TimeSpan.FromMilliseconds(50), TimeProvider.System).WaitAsync(Timeout);

        Assert.True(cancelled);
        Assert.Equal(0, group.Count);
        Assert.Empty(_failures);
    }
}
