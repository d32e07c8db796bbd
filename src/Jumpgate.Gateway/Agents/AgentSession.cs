using System.Threading.Channels;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;

namespace Jumpgate.Gateway.Agents;

/// <summary>
/// One connected agent: what it serves, its control connection's outbox and its trunks, the
/// connections that carry its streams. Lives from the agent's registration until its control
/// connection ends.
/// </summary>
internal sealed class AgentSession
{
    /// <summary>More trunks than this from one agent are refused.</summary>
    public const int MaxTrunks = 64;

    private readonly Lock _gate = new();
    private readonly List<Trunk> _trunks = [];
    private TaskCompletionSource _trunkAdded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<ControlMessage> _outbox = Channel.CreateBounded<ControlMessage>(new BoundedChannelOptions(1024) { SingleReader = true });
    private readonly CancellationTokenSource _ended = new();

    public AgentSession(string agent, string id, IReadOnlyDictionary<string, HostAnnouncement> hosts)
    {
        Agent = agent;
        Id = id;
        Hosts = hosts;
        foreach (var host in hosts.Values)
        {
            foreach (var service in host.Services)
            {
                // A service announced twice is one replica: streams find the first by name anyway.
                _replicas.TryAdd((host.Name, service.Name), new Replica(this, host.Name, service.Name));
            }
        }
    }

    private readonly Dictionary<(string Host, string Service), Replica> _replicas = [];

    /// <summary>This session's replica of a service it announced; null for one it did not.</summary>
    public Replica? ReplicaOf(string host, string service) => _replicas.GetValueOrDefault((host, service));

    public string Agent { get; }

    /// <summary>A random id; trunks present it with the agent's token to join this session.</summary>
    public string Id { get; }

    public IReadOnlyDictionary<string, HostAnnouncement> Hosts { get; }

    /// <summary>The fingerprint of the certificate the agent presents on direct legs, from its hello; null if it sent none.</summary>
    public string? Certificate { get; init; }

    /// <summary>Whether the agent dials plain legs for SSH services (its hello said so); an older one gets TLS legs.</summary>
    public bool PlainLegs { get; init; }

    /// <summary>Whether the agent serves direct sessions (its hello said so); `forward` opens legs per stream to one that does not.</summary>
    public bool DirectSessions { get; init; }

    /// <summary>The agent's version as its hello gave it (one line, at most 64 characters); null if it sent none.</summary>
    public string? Version { get; init; }

    /// <summary>The address the control connection came from, as the gateway saw it.</summary>
    public string? Remote { get; init; }

    /// <summary>When the agent registered.</summary>
    public DateTimeOffset Connected { get; init; }

    /// <summary>When the agent was last heard on its control connection (any frame, a heartbeat included).</summary>
    public DateTimeOffset LastHeard
    {
        get => new(Interlocked.Read(ref _lastHeardTicks), TimeSpan.Zero);
        set => Interlocked.Exchange(ref _lastHeardTicks, value.UtcTicks);
    }

    private long _lastHeardTicks;

    /// <summary>Trunks connected now, open or draining.</summary>
    public int Trunks
    {
        get
        {
            lock (_gate)
            {
                return _trunks.Count;
            }
        }
    }

    public ChannelReader<ControlMessage> Outbox => _outbox.Reader;

    /// <summary>Cancelled when the session ends; its trunks take no new streams from then on.</summary>
    public CancellationToken Ended => _ended.Token;

    /// <summary>Trunks that take new streams now.</summary>
    public int OpenTrunks
    {
        get
        {
            lock (_gate)
            {
                return _trunks.Count(t => t.IsOpen);
            }
        }
    }

    public bool TryAddTrunk(Trunk trunk)
    {
        lock (_gate)
        {
            if (_ended.IsCancellationRequested || _trunks.Count >= MaxTrunks)
            {
                return false;
            }
            _trunks.Add(trunk);
            _trunkAdded.TrySetResult();
            _trunkAdded = new(TaskCreationOptions.RunContinuationsAsynchronously);
            return true;
        }
    }

    public void RemoveTrunk(Trunk trunk)
    {
        lock (_gate)
        {
            _trunks.Remove(trunk);
        }
    }

    /// <summary>
    /// The open trunk carrying the fewest streams, waiting for the agent to connect one if it has
    /// none (it dials them as soon as it registers). Throws <see cref="TimeoutException"/> if none comes in time.
    /// </summary>
    public async Task<Trunk> TakeTrunkAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Ended);
        deadline.CancelAfter(timeout);
        while (true)
        {
            Task added;
            lock (_gate)
            {
                var best = _trunks.Where(t => t.IsOpen).MinBy(t => t.StreamCount);
                if (best is not null)
                {
                    return best;
                }
                added = _trunkAdded.Task;
            }
            try
            {
                await added.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"agent {Agent} had no connection to carry the stream within {timeout.TotalSeconds:0.#} s");
            }
        }
    }

    public bool Send(ControlMessage message) => _outbox.Writer.TryWrite(message);

    /// <summary>Ends the session: its trunks finish the streams they carry and then close.</summary>
    public void End()
    {
        _outbox.Writer.TryComplete();
        _ended.Cancel();
        Trunk[] trunks;
        lock (_gate)
        {
            trunks = [.. _trunks];
        }
        // Outside the lock: a trunk with no stream closes at once, and its end removes it from the
        // list on this very thread (cancellation runs its continuations inline).
        foreach (var trunk in trunks)
        {
            trunk.Drain();
        }
    }
}
