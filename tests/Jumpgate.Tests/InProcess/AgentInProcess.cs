using Jumpgate.Agent.Configuration;
using Jumpgate.Agent.Hosting;
using Jumpgate.Core.Protocol;
using Jumpgate.TestSupport;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A real agent inside the test process: <see cref="AgentRunner"/> with its reconnect loop, dialling
/// the gateway (or a relay in front of it) over loopback TLS with the gateway's certificate pinned.
/// Each host it serves is at 127.0.0.1.
/// </summary>
internal sealed class AgentInProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;

    private AgentInProcess(AgentOptions options, TestOutput output, string name)
    {
        var log = new TestLog(output, "agent " + name);
        _running = Task.Run(() => new AgentRunner(options, TimeProvider.System, log.CreateLogger()).RunAsync(_stop.Token));
    }

    /// <summary>
    /// Adds agent <paramref name="name"/> to the gateway's store and starts it serving
    /// <paramref name="hosts"/> (host → service → port); returns once a user can reach the first
    /// host's first service. <paramref name="via"/> is where it dials instead of the gateway itself;
    /// <paramref name="health"/> is every service's check (agent.yaml's default when null).
    /// </summary>
    public static async Task<AgentInProcess> StartAsync(GatewayInProcess gateway, string name,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> hosts, Uri? via = null, int? poolSize = null, ISet<string>? http = null,
        HealthCheck? health = null, GatewayInProcess? alsoTo = null)
    {
        var token = await gateway.AddAgentAsync(name, "*");
        var first = via is null ? gateway.Endpoint : gateway.Endpoint with { Address = via };
        var options = new AgentOptions
        {
            Gateway = first,
            // alsoTo: a second gateway on the same store, which the agent keeps a connection set to as well.
            Gateways = alsoTo is null ? [first] : [first, alsoTo.Endpoint],
            Token = token,
            Hosts = hosts.ToDictionary(h => h.Key, h => new HostTarget(h.Key, "127.0.0.1",
                h.Value.ToDictionary(s => s.Key, s => new ServiceTarget(s.Key, s.Value, http?.Contains(s.Key) == true) { Health = health ?? HealthCheck.Default }))),
            PoolSize = poolSize,
            DrainTimeout = TimeSpan.FromSeconds(1),
        };
        var agent = new AgentInProcess(options, gateway.Output, name);
        var (host, services) = hosts.First();
        if (!await Signals.UntilAsync(async () => await IsServingAsync(gateway, host, services.Keys.First()), Signals.Timeout(15), TimeSpan.FromMilliseconds(20)))
        {
            await agent.DisposeAsync();
            throw new TimeoutException($"agent {name} did not register {host} within 15 s");
        }
        return agent;
    }

    /// <summary>A probe (`jumpgate proxy --probe`): whether the gateway would open the stream now.</summary>
    public static async Task<bool> IsServingAsync(GatewayInProcess gateway, string host, string service)
    {
        try
        {
            await (await gateway.ConnectAsync(host, service, probe: true)).DisposeAsync();
            return true;
        }
        catch (GatewayException)
        {
            return false;
        }
    }

    /// <summary>Stops the agent as Ctrl-C does: its connections close and open streams get the drain timeout.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
    }
}
