using Jumpgate.Agent.Configuration;

namespace Jumpgate.Agent.Health;

/// <summary>A service's verdict as the gateway is told it: healthy or not, and why its last check failed.</summary>
internal sealed record HealthReport(string Host, string Service, bool Healthy, string? Reason);

/// <summary>
/// One service's verdict from its checks in a row: healthy until <see cref="HealthCheck.UnhealthyAfter"/>
/// failures in a row, then unhealthy until <see cref="HealthCheck.HealthyAfter"/> successes in a row.
/// A service starts healthy, as the gateway assumes of an agent that never reports (one older than it).
/// </summary>
internal sealed class ServiceHealth(string host, string service, HealthCheck check)
{
    private int _failures;
    private int _successes;

    public bool Healthy { get; private set; } = true;

    /// <summary>Why the last failed check failed; null until one has.</summary>
    public string? LastFailure { get; private set; }

    public HealthReport Report => new(host, service, Healthy, LastFailure);

    /// <summary>Counts one check (<paramref name="failure"/> null: it passed); returns the new report when the verdict changed.</summary>
    public HealthReport? Record(string? failure)
    {
        if (failure is null)
        {
            _failures = 0;
            if (!Healthy && ++_successes >= check.HealthyAfter)
            {
                Healthy = true;
                return Report;
            }
            return null;
        }
        _successes = 0;
        LastFailure = failure;
        if (Healthy && ++_failures >= check.UnhealthyAfter)
        {
            Healthy = false;
            return Report;
        }
        return null;
    }
}
