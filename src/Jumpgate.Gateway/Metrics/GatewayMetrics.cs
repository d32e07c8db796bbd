using System.Diagnostics.Metrics;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Tunnel;

namespace Jumpgate.Gateway.Metrics;

/// <summary>
/// The gateway's instruments, one meter (<see cref="MeterName"/>) that the Prometheus exposition
/// reads (docs/metrics.md lists every series). Label values are only names an admin made (agents,
/// hosts, services an agent was allowed to announce) or fixed words: a stream refused before it
/// reached a known service is counted without its service, since a user typed that name.
/// </summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "Jumpgate.Gateway";

    /// <summary>Stream set-up from a few milliseconds on loopback to the agent's connect timeout.</summary>
    private static readonly double[] SetupBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>A store operation: tens of microseconds on SQLite to a PostgreSQL connect timeout.</summary>
    private static readonly double[] StoreBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

    private readonly UpDownCounter<long> _agentsConnected;
    private readonly Counter<long> _agentSessions;
    private readonly UpDownCounter<long> _streamsOpen;
    private readonly Counter<long> _streams;
    private readonly Histogram<double> _setup;
    private readonly Counter<long> _httpRequests;
    private readonly Counter<long> _authFailures;
    private long _authThrottled;
    private readonly Histogram<double> _storeOperations;
    private readonly LiveStreams _live;

    public GatewayMetrics(IMeterFactory meters, AgentRegistry agents, LiveStreams live, StoreHealth store)
    {
        _live = live;
        var meter = meters.Create(MeterName);
        _agentsConnected = meter.CreateUpDownCounter<long>("jumpgate.agents.connected", "{agent}", "Agents with a live control connection, by agent (0 once an agent that was connected is gone).");
        _agentSessions = meter.CreateCounter<long>("jumpgate.agent.sessions", "{session}", "Agent registrations, by agent: more than one means the agent reconnected.");
        _streamsOpen = meter.CreateUpDownCounter<long>("jumpgate.streams.open", "{stream}", "Streams carrying bytes now, by service.");
        _streams = meter.CreateCounter<long>("jumpgate.streams", "{stream}", "Streams asked for, by service and result (opened, refused: the agent or the limits said no, denied: the rules said no).");
        _setup = meter.CreateHistogram("jumpgate.stream.setup.duration", "s", "From a stream's request to its far end answering.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SetupBuckets });
        meter.CreateObservableCounter("jumpgate.stream.transferred", Transferred, "By", "Bytes streams carried, by service and direction (to_service, to_user), open streams included.");
        _httpRequests = meter.CreateCounter<long>("jumpgate.http.requests", "{request}", "HTTP requests the gateway answered (its API and pages, and proxied services), by status class.");
        _authFailures = meter.CreateCounter<long>("jumpgate.auth.failures", "{attempt}", "Failed authentications, by the kind of token tried (user, agent, admin, scrape).");
        // Observed, so that it is there at 0 from the first scrape and an alert on its increase sees the first throttle.
        meter.CreateObservableCounter("jumpgate.auth.throttled", () => Interlocked.Read(ref _authThrottled), "{attempt}", "Authentications refused untried because their address was rate-limited.");
        meter.CreateObservableGauge("jumpgate.replica.healthy", () => Replicas(agents), "{replica}", "1 while a replica's health check passes, 0 while it fails, by agent, host and service.");
        _storeOperations = meter.CreateHistogram("jumpgate.store.operation.duration", "s", "A store operation, from opening its database connection to closing it.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StoreBuckets });
        meter.CreateObservableGauge("jumpgate.store.up", () => store.IsLost ? 0 : 1, "", "1 while the store's database answers, 0 while it is lost.");
    }

    public void AgentConnected(string agent) => _agentsConnected.Add(1, new KeyValuePair<string, object?>("agent", agent));

    /// <summary>An agent registered, as a first connection or in place of a session the gateway had not yet seen end.</summary>
    public void AgentSession(string agent) => _agentSessions.Add(1, new KeyValuePair<string, object?>("agent", agent));

    public void AgentDisconnected(string agent) => _agentsConnected.Add(-1, new KeyValuePair<string, object?>("agent", agent));

    /// <summary>A stream's request ended in <paramref name="result"/>; <paramref name="service"/> is null where no replica was chosen.</summary>
    public void StreamAsked(string? service, string result) =>
        _streams.Add(1, new KeyValuePair<string, object?>("service", service ?? ""), new KeyValuePair<string, object?>("result", result));

    public void StreamOpened(StreamRecord stream, TimeSpan setup)
    {
        StreamAsked(stream.Service, "opened");
        _setup.Record(setup.TotalSeconds, new KeyValuePair<string, object?>("service", stream.Service));
        _streamsOpen.Add(1, new KeyValuePair<string, object?>("service", stream.Service));
    }

    /// <summary>An opened stream ended; its record says so once.</summary>
    public void StreamClosed(StreamRecord stream) =>
        _streamsOpen.Add(-1, new KeyValuePair<string, object?>("service", stream.Service));

    public void HttpAnswered(int status) =>
        _httpRequests.Add(1, new KeyValuePair<string, object?>("status_class", status switch
        {
            < 200 => "1xx",
            < 300 => "2xx",
            < 400 => "3xx",
            < 500 => "4xx",
            _ => "5xx",
        }));

    public void AuthFailed(string kind) => _authFailures.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void AuthThrottled() => Interlocked.Increment(ref _authThrottled);

    public void StoreOperation(TimeSpan duration) => _storeOperations.Record(duration.TotalSeconds);

    private List<Measurement<long>> Transferred()
    {
        // Ended and open streams' bytes together, from the one list of streams.
        var totals = _live.TotalBytesByService();
        var measurements = new List<Measurement<long>>(totals.Count * 2);
        foreach (var (service, (up, down)) in totals)
        {
            var tag = new KeyValuePair<string, object?>("service", service);
            measurements.Add(new Measurement<long>(up, tag, new KeyValuePair<string, object?>("direction", "to_service")));
            measurements.Add(new Measurement<long>(down, tag, new KeyValuePair<string, object?>("direction", "to_user")));
        }
        return measurements;
    }

    private static IEnumerable<Measurement<int>> Replicas(AgentRegistry agents)
    {
        foreach (var session in agents.All())
        {
            foreach (var host in session.Hosts.Values)
            {
                foreach (var service in host.Services)
                {
                    if (session.ReplicaOf(host.Name, service.Name) is { } replica)
                    {
                        yield return new Measurement<int>(replica.Health.Healthy ? 1 : 0,
                            new KeyValuePair<string, object?>("agent", session.Agent),
                            new KeyValuePair<string, object?>("host", host.Name),
                            new KeyValuePair<string, object?>("service", service.Name));
                    }
                }
            }
        }
    }
}
