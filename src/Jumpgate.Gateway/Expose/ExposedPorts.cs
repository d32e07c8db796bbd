using System.Net;
using System.Net.Sockets;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Tunnel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Expose;

/// <summary>
/// Keeps one listener open for each exposure in the store, on the address the gateway listens
/// on: whenever the store's generation moves (any write, from any process or gateway), the
/// exposures are read again and listeners opened, replaced or closed to match. A port that
/// cannot be bound is logged and reported by <see cref="State"/>, and the gateway runs on.
/// </summary>
internal sealed class ExposedPorts(IExposureStore exposures, IStoreGeneration generation, StreamBroker broker, GatewayOptions options, TimeProvider time, ILogger<ExposedPorts> logger) : IHostedService
{
    /// <summary>How often the generation is looked at: a memory load on SQLite, a kept value on PostgreSQL, so a change applies well within a second.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, ExposedListener> _open = new(StringComparer.Ordinal);
    private Dictionary<string, string> _state = new(StringComparer.Ordinal);
    private Task _loop = Task.CompletedTask;

    /// <summary>What this gateway does with each exposure now: where it listens, or why it cannot.</summary>
    public IReadOnlyDictionary<string, string> State => _state;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _loop;
        foreach (var listener in _open.Values)
        {
            await listener.DisposeAsync();
        }
        _open.Clear();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        long? seen = null;
        using var timer = new PeriodicTimer(Poll, time);
        do
        {
            try
            {
                var current = generation.Read();
                if (current != seen)
                {
                    await ReconcileAsync(exposures.List());
                    seen = current;
                }
            }
            catch (Exception e) when (StoreHealth.IsOutage(e))
            {
                // The store is away (StoreHealth says so); the listeners stay as they are until it is back.
            }
        }
        while (await Tick(timer, cancellationToken));
    }

    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task ReconcileAsync(IReadOnlyList<Exposure> wanted)
    {
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        var byName = wanted.ToDictionary(e => e.Name, StringComparer.Ordinal);
        foreach (var (name, listener) in _open.ToList())
        {
            if (!byName.TryGetValue(name, out var exposure) || !Same(exposure, listener.Exposure))
            {
                _open.Remove(name);
                await listener.CloseAsync(endConnections: false);
                GatewayLog.ExposureClosed(logger, name, listener.Exposure.Port);
            }
        }
        foreach (var exposure in wanted)
        {
            if (!_open.TryGetValue(exposure.Name, out var listener))
            {
                try
                {
                    listener = _open[exposure.Name] = ExposedListener.Open(exposure, options.Listen.Address, broker);
                    GatewayLog.ExposureOpened(logger, exposure.Name, listener.Address?.ToString() ?? "", exposure.Host, exposure.Service, string.Join(", ", exposure.Allow));
                }
                catch (SocketException e)
                {
                    var reason = $"cannot listen on {new IPEndPoint(options.Listen.Address, exposure.Port)}: {e.Message}";
                    GatewayLog.ExposureFailed(logger, exposure.Name, reason);
                    state[exposure.Name] = reason;
                    continue;
                }
            }
            state[exposure.Name] = $"listening on {listener.Address}";
        }
        _state = state;
    }

    private static bool Same(Exposure a, Exposure b) =>
        a.Port == b.Port && a.Host == b.Host && a.Service == b.Service && a.Allow.SequenceEqual(b.Allow);
}
