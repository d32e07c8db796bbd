namespace Jumpgate.Gateway.Agents;

/// <summary>
/// One agent session's service of one host, as a replica of that service: the agent's last health
/// verdict (healthy until it says otherwise: an agent older than health checks never does) and
/// the streams and HTTP requests the gateway carries to it now, by which new ones are spread.
/// </summary>
internal sealed class Replica(AgentSession session, string host, string service)
{
    private int _open;
    private volatile HealthVerdict _health = HealthVerdict.Unreported;

    public AgentSession Session { get; } = session;

    public string Host { get; } = host;

    public string Service { get; } = service;

    public string Agent => Session.Agent;

    /// <summary>The agent's session is live and its check passes: new streams may go here.</summary>
    public bool Available => Health.Healthy && !Session.Ended.IsCancellationRequested;

    public HealthVerdict Health => _health;

    public int OpenStreams => Volatile.Read(ref _open);

    public void Report(bool healthy, string? reason, DateTimeOffset at) => _health = new HealthVerdict(healthy, reason, at);

    /// <summary>Counts a stream or request as open here until the result is disposed.</summary>
    public Carried Carry()
    {
        Interlocked.Increment(ref _open);
        return new Carried(this);
    }

    /// <summary>One stream carried by a replica; disposing it (once) ends the count.</summary>
    public sealed class Carried(Replica replica) : IDisposable
    {
        private int _disposed;

        public Replica Replica { get; } = replica;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref Replica._open);
            }
        }
    }
}

/// <summary>What the agent last said of a service's health, and why its last check failed.</summary>
internal sealed record HealthVerdict(bool Healthy, string? LastFailure, DateTimeOffset? Since)
{
    public static HealthVerdict Unreported { get; } = new(true, null, null);
}
