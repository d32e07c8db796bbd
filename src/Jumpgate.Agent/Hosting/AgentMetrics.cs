using System.Diagnostics.Metrics;
using Jumpgate.Agent.Health;

namespace Jumpgate.Agent.Hosting;

/// <summary>
/// The agent's instruments, one meter (<see cref="MeterName"/>) served on <c>metrics_listen</c>
/// (docs/metrics.md). Labels are the gateway URLs and the host and service names of agent.yaml.
/// </summary>
internal sealed class AgentMetrics : IDisposable
{
    public const string MeterName = "Jumpgate.Agent";

    private readonly Meter _meter = new(MeterName);
    private readonly UpDownCounter<long> _connected;
    private readonly Counter<long> _reconnects;

    public AgentMetrics(HealthMonitor health)
    {
        _connected = _meter.CreateUpDownCounter<long>("jumpgate.agent.gateway.connected", "{connection}", "1 while the agent is registered with a gateway, by gateway.");
        _reconnects = _meter.CreateCounter<long>("jumpgate.agent.reconnects", "{attempt}", "Times the agent dialled a gateway again after losing it or being refused, by gateway.");
        _meter.CreateObservableGauge("jumpgate.agent.service.healthy", () => Verdicts(health), "{service}", "1 while a service's health check passes, 0 while it fails, by host and service.");
    }

    public void Connected(string gateway) => _connected.Add(1, new KeyValuePair<string, object?>("gateway", gateway));

    public void Disconnected(string gateway) => _connected.Add(-1, new KeyValuePair<string, object?>("gateway", gateway));

    public void Reconnecting(string gateway) => _reconnects.Add(1, new KeyValuePair<string, object?>("gateway", gateway));

    private static IEnumerable<Measurement<int>> Verdicts(HealthMonitor health) =>
        health.Verdicts().Select(v => new Measurement<int>(v.Healthy ? 1 : 0,
            new KeyValuePair<string, object?>("host", v.Host), new KeyValuePair<string, object?>("service", v.Service)));

    public void Dispose() => _meter.Dispose();
}
