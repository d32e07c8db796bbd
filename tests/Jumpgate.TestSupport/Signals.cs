using System.Diagnostics;

namespace Jumpgate.TestSupport;

/// <summary>Timeouts for waiting on signals: generous, and off under a debugger.</summary>
public static class Signals
{
    public static TimeSpan Timeout(double seconds) =>
        Debugger.IsAttached ? System.Threading.Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(seconds);

    /// <summary>Polls a condition that has no event of its own (a port that starts listening), bounded in time.</summary>
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? every = null)
    {
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < timeout || timeout == System.Threading.Timeout.InfiniteTimeSpan)
        {
            if (await condition())
            {
                return true;
            }
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(50));
        }
        return await condition();
    }
}
