namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// Jittered exponential backoff: 100 ms, 200 ms, 400 ms … up to a cap, each scaled by a random
/// factor in [0.5, 1.0] so a fleet of agents does not reconnect in lockstep after a gateway restart.
/// </summary>
internal sealed class Backoff(TimeSpan cap, Random? random = null)
{
    private static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(100);
    private readonly Random _random = random ?? Random.Shared;
    private int _attempt;

    public TimeSpan Next()
    {
        var ceiling = Math.Min(cap.TotalMilliseconds, Initial.TotalMilliseconds * Math.Pow(2, Math.Min(_attempt, 16)));
        _attempt++;
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (_random.NextDouble() / 2)));
    }

    public void Reset() => _attempt = 0;
}
