using System.Collections.Concurrent;
using System.Threading.Channels;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// One connected agent: what it serves, its control connection's outbox and its pool of idle
/// connections. Lives from the agent's registration until its control connection ends.
/// </summary>
internal sealed class AgentSession
{
    /// <summary>More idle connections than this from one agent are refused: the pool is a convenience, not a queue.</summary>
    public const int MaxIdle = 256;

    private readonly ConcurrentQueue<PooledConnection> _idle = new();
    private readonly SemaphoreSlim _idleCount = new(0, MaxIdle);
    private readonly Channel<ControlMessage> _outbox = Channel.CreateBounded<ControlMessage>(new BoundedChannelOptions(1024) { SingleReader = true });
    private readonly CancellationTokenSource _ended = new();

    public AgentSession(string agent, string id, IReadOnlyDictionary<string, HostAnnouncement> hosts)
    {
        Agent = agent;
        Id = id;
        Hosts = hosts;
    }

    public string Agent { get; }

    /// <summary>A random id; pool connections present it with the agent's token to join this session.</summary>
    public string Id { get; }

    public IReadOnlyDictionary<string, HostAnnouncement> Hosts { get; }

    public ChannelReader<ControlMessage> Outbox => _outbox.Reader;

    /// <summary>Cancelled when the session ends; its pool connections close with it.</summary>
    public CancellationToken Ended => _ended.Token;

    public int IdleCount => _idle.Count;

    public bool TryAddIdle(PooledConnection connection)
    {
        if (_ended.IsCancellationRequested || _idle.Count >= MaxIdle)
        {
            return false;
        }
        _idle.Enqueue(connection);
        _idleCount.Release();
        return true;
    }

    /// <summary>
    /// Takes an idle connection, asking the agent for more when none is left. Dead connections
    /// found on the way are skipped. Throws <see cref="TimeoutException"/> if the agent sends none in time.
    /// </summary>
    public async Task<PooledConnection> TakeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Ended);
        deadline.CancelAfter(timeout);
        var asked = false;
        while (true)
        {
            if (!_idleCount.Wait(0, CancellationToken.None))
            {
                if (!asked)
                {
                    _outbox.Writer.TryWrite(new ControlMessage { Type = ControlMessage.Dial, Count = 1 });
                    asked = true;
                }
                try
                {
                    await _idleCount.WaitAsync(deadline.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"agent {Agent} had no free connection within {timeout.TotalSeconds:0.#} s");
                }
            }
            if (_idle.TryDequeue(out var connection) && connection.TryTake())
            {
                return connection;
            }
        }
    }

    public bool Send(ControlMessage message) => _outbox.Writer.TryWrite(message);

    public void End()
    {
        _outbox.Writer.TryComplete();
        _ended.Cancel();
    }
}
