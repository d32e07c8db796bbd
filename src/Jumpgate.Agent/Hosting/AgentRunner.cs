using Jumpgate.Agent.Configuration;
using Jumpgate.Agent.Health;
using Jumpgate.Agent.Tunnel;
using Jumpgate.Core.Background;
using Jumpgate.Core.Metrics;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Agent.Hosting;

/// <summary>
/// Keeps an agent registered with each of its gateways for as long as it runs: connect, serve, and on any
/// loss reconnect with jittered exponential backoff, each gateway on its own. On stop, open streams get the drain timeout.
/// </summary>
public sealed class AgentRunner
{
    private readonly AgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskGroup _streams;
    private readonly TaskGroup _trunks;

    internal AgentRunner(AgentOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        // Streams and trunks outlive the registration that opened them (a reconnect lets them finish), so the runner owns them.
        _streams = new TaskGroup(e => AgentLog.WorkFailed(logger, "a stream", e));
        _trunks = new TaskGroup(e => AgentLog.WorkFailed(logger, "a trunk to the gateway", e));
    }

    /// <summary>Loads agent.yaml and runs until <paramref name="cancellationToken"/> fires (Ctrl-C).</summary>
    public static Task RunAsync(string configPath, ILogger logger, CancellationToken cancellationToken)
    {
        var options = AgentOptions.Load(configPath);
        if (options.Gateway.Pinned is not null)
        {
            TlsDefaults.SkipSystemTrustStore();
        }
        return new AgentRunner(options, TimeProvider.System, logger).RunAsync(cancellationToken);
    }

    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        // The checks run across reconnects: a service's verdict does not depend on a gateway being there.
        await using var health = new HealthMonitor(_options, _time, _logger);
        using var metrics = new AgentMetrics(health);
        using var export = _options.MetricsListen is not null ? new MetricsExport(AgentMetrics.MeterName) : null;
        await using var metricsServer = _options.MetricsListen is { } listen ? await export!.ServeAsync(listen, cancellationToken) : null;
        if (metricsServer is not null)
        {
            AgentLog.MetricsListening(_logger, metricsServer.Address);
        }
        health.Start();
        // One connection set per gateway, each reconnecting on its own: a dead gateway leaves the others serving.
        await Task.WhenAll(_options.Gateways.Select(gateway => KeepGatewayAsync(_options with { Gateway = gateway }, health, metrics, cancellationToken)));
        AgentLog.Stopping(_logger, _streams.Count, _options.DrainTimeout.TotalSeconds);
        await _streams.StopAsync(_options.DrainTimeout, _time);
        // Each trunk closed once its last stream ended; one still dialling stops now.
        await _trunks.DisposeAsync();
    }

    /// <summary>Keeps the agent registered with one gateway until <paramref name="cancellationToken"/> fires.</summary>
    private async Task KeepGatewayAsync(AgentOptions options, HealthMonitor health, AgentMetrics metrics, CancellationToken cancellationToken)
    {
        // Off the caller's path: each gateway's first dial runs beside the others'.
        await Task.Yield();
        var backoff = new Backoff(options.ReconnectMaxDelay);
        var gateway = options.Gateway.ToString();
        // Across registrations: a direct session's legs outlive the control connection it began under, and its reports and the gateway's words about it go over the next.
        var reports = new SessionReports();
        var services = new ServiceStreams(options, _logger, reports);
        var first = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (!first)
            {
                metrics.Reconnecting(gateway);
            }
            first = false;
            try
            {
                await using var connection = await AgentConnection.ConnectAsync(options, _streams, _trunks, health, services, reports, _time, _logger, cancellationToken);
                backoff.Reset();
                metrics.Connected(gateway);
                string reason;
                try
                {
                    reason = await connection.RunAsync(cancellationToken);
                }
                finally
                {
                    metrics.Disconnected(gateway);
                }
                if (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                AgentLog.Disconnected(_logger, options.Gateway.ToString(), reason);
            }
            catch (GatewayException e) when (e.Refused)
            {
                var delay = backoff.Next();
                AgentLog.Refused(_logger, e.Message, delay.TotalSeconds);
                await DelayAsync(delay, cancellationToken);
                continue;
            }
            catch (GatewayException e)
            {
                var delay = backoff.Next();
                AgentLog.Retrying(_logger, e.Message, delay.TotalSeconds);
                await DelayAsync(delay, cancellationToken);
                continue;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            // A lost connection is retried at once: a gateway restart is the common case, and it is back quickly.
            await DelayAsync(backoff.Next(), cancellationToken);
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the loop condition ends the run.
        }
    }
}
