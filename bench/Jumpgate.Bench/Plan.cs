namespace Jumpgate.Bench;

/// <summary>
/// How much of each figure a run measures. Every loop in the benchmark is bounded twice: by a
/// count from here and by a time cap from here, so a stalled peer costs seconds, not the run.
/// </summary>
internal sealed record Plan
{
    public required string Name { get; init; }

    /// <summary>Rounds of the bulk figure; each round runs every path once (A B C … A B C …).</summary>
    public required int BulkRounds { get; init; }

    /// <summary>Length of one iperf3 run, in seconds, after <see cref="BulkOmit"/> seconds left out of the result (slow start, relay buffers filling).</summary>
    public required int BulkSeconds { get; init; }
    public required int BulkOmit { get; init; }

    /// <summary>Rounds of the new-connection figure; each round opens up to <see cref="LatencyPerRound"/> connections per path.</summary>
    public required int LatencyRounds { get; init; }
    public required int LatencyPerRound { get; init; }

    /// <summary>The most one path may spend in one round (a slow path, or a slow machine, has fewer connections).</summary>
    public required TimeSpan LatencyRoundCap { get; init; }

    /// <summary>Connections each path opens before the timed rounds (JIT, pools, caches).</summary>
    public required int LatencyWarmup { get; init; }

    public required int SshTrueRuns { get; init; }

    /// <summary>The file the scp figure copies, and how many times each way copies it.</summary>
    public required int ScpMebibytes { get; init; }
    public required int ScpRuns { get; init; }
    public required int ProxyStartRuns { get; init; }

    /// <summary>Idle tunneled connections held open for the memory figure (its target is per connection with 1,000 open).</summary>
    public required int IdleConnections { get; init; }

    /// <summary>How long the gateway (or the relay sshd) stays down before it is restarted, in seconds.</summary>
    public required IReadOnlyList<double> ReconnectDowntimes { get; init; }
    public required int ReconnectRuns { get; init; }

    public required int HttpSeconds { get; init; }
    public required int HttpRounds { get; init; }

    /// <summary>An unmeasured wrk run per path before the rounds (JIT, connection pools).</summary>
    public required int HttpWarmupSeconds { get; init; }

    /// <summary>Fleet sizes of the fleet figure (its exec target is set for 8 hosts), and alternated rounds per size.</summary>
    public required IReadOnlyList<int> FleetHosts { get; init; }
    public required int FleetRounds { get; init; }

    /// <summary>New connections a second through two replicas, for how many seconds, and how far into that one replica dies (replica failover).</summary>
    public required int FailoverRate { get; init; }
    public required int FailoverSeconds { get; init; }
    public required double FailoverKillAt { get; init; }

    /// <summary>Times the gateway failover figure kills the gateway the CLI uses (and starts it again for the next).</summary>
    public required int GatewayFailoverRuns { get; init; }

    /// <summary>Rounds of the cost-of-being-watched figure; each measures new connections and HTTP watched and not, the order turning.</summary>
    public required int WatchedRounds { get; init; }

    /// <summary>Rounds of the WebSocket round-trip figure, messages each path sends per round (one at a time), and unmeasured ones first.</summary>
    public required int WebSocketRounds { get; init; }
    public required int WebSocketMessages { get; init; }
    public required int WebSocketWarmup { get; init; }

    /// <summary>The scale figure: agents (identities, one process) and idle streams on the loaded gateway, and alternated rounds against the unloaded one.</summary>
    public required int ScaleAgents { get; init; }
    public required int ScaleStreams { get; init; }
    public required int ScaleRounds { get; init; }

    /// <summary>The words `--only` named (null in a full or smoke run): a figure may measure more when asked for by name.</summary>
    public IReadOnlyList<string>? Only { get; init; }

    /// <summary>Whether `--only` named a word of <paramref name="figure"/>.</summary>
    public bool Named(string figure) => Only?.Any(o => figure.Contains(o, StringComparison.OrdinalIgnoreCase)) == true;

    /// <summary>Whether targets are judged; a smoke run only proves every figure still runs.</summary>
    public bool JudgeTargets => Name == "full";

    /// <summary>The full run: under 10 minutes on 2 cores, peers and Jumpgate alternated, medians reported.</summary>
    public static Plan Full { get; } = new()
    {
        Name = "full",
        BulkRounds = 3,
        BulkSeconds = 2,
        BulkOmit = 1,
        LatencyRounds = 2,
        LatencyPerRound = 1000,
        LatencyRoundCap = TimeSpan.FromSeconds(12),
        LatencyWarmup = 100,
        SshTrueRuns = 8,
        ScpMebibytes = 1024,
        ScpRuns = 2,
        ProxyStartRuns = 15,
        IdleConnections = 1000,
        ReconnectDowntimes = [0, 1, 30],
        ReconnectRuns = 2,
        HttpSeconds = 3,
        HttpRounds = 2,
        HttpWarmupSeconds = 3,
        FleetHosts = [2, 8],
        FleetRounds = 3,
        FailoverRate = 200,
        FailoverSeconds = 10,
        FailoverKillAt = 0.4,
        GatewayFailoverRuns = 3,
        WatchedRounds = 4,
        WebSocketRounds = 4,
        WebSocketMessages = 1000,
        WebSocketWarmup = 200,
        ScaleAgents = 100,
        ScaleStreams = 10_000,
        ScaleRounds = 6,
    };

    /// <summary>One short iteration of every figure, no thresholds: proves in CI that the benchmark still works.</summary>
    public static Plan Smoke { get; } = new()
    {
        Name = "smoke",
        BulkRounds = 1,
        BulkSeconds = 1,
        BulkOmit = 0,
        LatencyRounds = 1,
        LatencyPerRound = 50,
        LatencyRoundCap = TimeSpan.FromSeconds(3),
        LatencyWarmup = 5,
        SshTrueRuns = 1,
        ScpMebibytes = 4,
        ScpRuns = 1,
        ProxyStartRuns = 1,
        IdleConnections = 50,
        ReconnectDowntimes = [0],
        ReconnectRuns = 1,
        HttpSeconds = 1,
        HttpRounds = 1,
        HttpWarmupSeconds = 1,
        FleetHosts = [2],
        FleetRounds = 1,
        FailoverRate = 50,
        FailoverSeconds = 2,
        FailoverKillAt = 0.4,
        GatewayFailoverRuns = 1,
        WatchedRounds = 1,
        WebSocketRounds = 1,
        WebSocketMessages = 50,
        WebSocketWarmup = 10,
        ScaleAgents = 4,
        ScaleStreams = 200,
        ScaleRounds = 1,
    };
}
