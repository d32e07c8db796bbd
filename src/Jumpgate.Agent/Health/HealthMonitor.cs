using Jumpgate.Agent.Configuration;
using Jumpgate.Agent.Hosting;
using Jumpgate.Core.Background;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Agent.Health;

/// <summary>
/// Checks every service of agent.yaml on its own interval for as long as the agent runs (through
/// reconnects), and tells whoever listens, the current registration with the gateway, each
/// change of verdict. The checks are this monitor's tasks: disposing it cancels and awaits them.
/// </summary>
internal sealed class HealthMonitor : IAsyncDisposable
{
    private readonly AgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskGroup _checks;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Host, string Service), ServiceHealth> _services = [];
    private readonly HttpClient _http;
    private readonly List<Action<HealthReport>> _listeners = [];

    public HealthMonitor(AgentOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _checks = new TaskGroup(e => AgentLog.WorkFailed(logger, "a health check", e));
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }, disposeHandler: true)
        {
            // Each check has its own timeout; this one would only cut it shorter.
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        foreach (var host in options.Hosts.Values)
        {
            foreach (var service in host.Services.Values.Where(s => s.Health.Enabled))
            {
                _services[(host.Name, service.Name)] = new ServiceHealth(host.Name, service.Name, service.Health);
            }
        }
    }

    /// <summary>Starts the checks; the first of each runs one interval from now, so a service just started has that long to listen.</summary>
    public void Start()
    {
        foreach (var host in _options.Hosts.Values)
        {
            foreach (var service in host.Services.Values.Where(s => s.Health.Enabled))
            {
                _checks.Start(stopping => CheckAsync(host, service, _services[(host.Name, service.Name)], stopping));
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="listener"/> every change from now on, and at once what the gateway
    /// does not assume: each service that is unhealthy or has failed a check. One listener per
    /// registration (one per gateway); disposing the result stops it.
    /// </summary>
    public IDisposable Listen(Action<HealthReport> listener)
    {
        lock (_gate)
        {
            // Under the lock, so no change falls between the current state and the first change sent.
            _listeners.Add(listener);
            foreach (var health in _services.Values.Where(h => !h.Healthy || h.LastFailure is not null))
            {
                listener(health.Report);
            }
        }
        return new Unlisten(this, listener);
    }

    /// <summary>Each checked service's verdict now, for the agent's metrics.</summary>
    public IReadOnlyList<(string Host, string Service, bool Healthy)> Verdicts()
    {
        lock (_gate)
        {
            return [.. _services.Select(s => (s.Key.Host, s.Key.Service, s.Value.Healthy))];
        }
    }

    private async Task CheckAsync(HostTarget host, ServiceTarget service, ServiceHealth health, CancellationToken stopping)
    {
        using var ticker = new PeriodicTimer(service.Health.Interval, _time);
        while (await ticker.WaitForNextTickAsync(stopping))
        {
            var failure = await HealthProbe.CheckAsync(_http, host, service, stopping);
            lock (_gate)
            {
                if (health.Record(failure) is not { } changed)
                {
                    continue;
                }
                if (changed.Healthy)
                {
                    AgentLog.ServiceHealthy(_logger, host.Name, service.Name);
                }
                else
                {
                    AgentLog.ServiceUnhealthy(_logger, host.Name, service.Name, changed.Reason ?? "");
                }
                foreach (var listener in _listeners)
                {
                    listener(changed);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _checks.DisposeAsync();
        _http.Dispose();
    }

    private sealed class Unlisten(HealthMonitor monitor, Action<HealthReport> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (monitor._gate)
            {
                monitor._listeners.Remove(listener);
            }
        }
    }
}
