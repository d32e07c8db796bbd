using Jumpgate.Agent.Hosting;
using Jumpgate.Core.Streams;
using Microsoft.Extensions.Logging;

namespace Jumpgate.TestSupport;

/// <summary>
/// Many agents in one process, each with an identity (token) and an agent.yaml of its own, each run by
/// the agent's own library (<see cref="AgentRunner"/>) as `jumpgate agent run` runs one: a lab of a
/// hundred machines for a load test, without a process and a runtime per machine. Returns once every
/// agent has registered; disposing stops them all as Ctrl-C stops one.
/// </summary>
public sealed class AgentCrowd : IAsyncDisposable
{
    /// <summary>The event the agent logs once the gateway accepted its registration ("connected to … as …").</summary>
    private const int ConnectedEvent = 101;

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private readonly Lock _gate = new();
    private readonly HashSet<int> _connected = [];
    private readonly TaskCompletionSource _allConnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _count;
    private readonly Action<string> _say;
    private readonly LogLevel _level;

    private AgentCrowd(int count, Action<string> say, LogLevel level)
    {
        _count = count;
        _say = say;
        _level = level;
    }

    /// <summary>How many of the agents have registered at least once.</summary>
    public int Connected
    {
        get
        {
            lock (_gate)
            {
                return _connected.Count;
            }
        }
    }

    /// <summary>The hosts of a crowd of <paramref name="agents"/>: crowd-0, crowd-1, …, one per agent.</summary>
    public static IReadOnlyList<string> Hosts(int agents) => Enumerable.Range(0, agents).Select(i => $"crowd-{i}").ToList();

    /// <summary>
    /// Adds <paramref name="agents"/> agents to <paramref name="deployment"/> and writes their agent.yaml files:
    /// each serves one host of <see cref="Hosts"/> whose `echo` is <paramref name="echoPort"/>, with no health check.
    /// </summary>
    public static async Task<IReadOnlyList<string>> WriteConfigsAsync(Deployment deployment, int agents, int echoPort)
    {
        var configs = new List<string>();
        foreach (var name in Hosts(agents))
        {
            var config = deployment.Dir.File($"{name}.yaml");
            await File.WriteAllTextAsync(config, $$"""
                gateway: {{deployment.GatewayUrl}}
                token_file: {{await deployment.AddAgentAsync(name, name)}}
                fingerprint: {{deployment.Fingerprint}}
                hosts:
                  {{name}}:
                    address: 127.0.0.1
                    services:
                      echo: { port: {{echoPort}}, health: off }

                """);
            configs.Add(config);
        }
        return configs;
    }

    /// <summary>Starts one agent per file in <paramref name="configs"/>; <paramref name="say"/> hears what they log at <paramref name="level"/> and above (warnings and errors unless asked).</summary>
    public static async Task<AgentCrowd> StartAsync(IReadOnlyList<string> configs, TimeSpan timeout, Action<string> say, LogLevel level = LogLevel.Warning)
    {
        var crowd = new AgentCrowd(configs.Count, say, level);
        for (var i = 0; i < configs.Count; i++)
        {
            var logger = new CrowdLogger(crowd, i, Path.GetFileNameWithoutExtension(configs[i]));
            var config = configs[i];
            crowd._running.Add(Task.Run(() => AgentRunner.RunAsync(config, logger, crowd._stop.Token)));
        }
        try
        {
            await crowd._allConnected.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            var connected = crowd.Connected;
            await crowd.DisposeAsync();
            throw new TimeoutException($"only {connected} of {configs.Count} agents registered within {timeout.TotalSeconds:0} s");
        }
        return crowd;
    }

    private void OnConnected(int agent)
    {
        lock (_gate)
        {
            if (_connected.Add(agent) && _connected.Count == _count)
            {
                _allConnected.TrySetResult();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        // Each agent gives its open streams its drain timeout, as on Ctrl-C; the crowd's streams are closed before this.
        await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(30));
        _stop.Dispose();
    }

    /// <summary>Counts registrations, and passes what is logged at the crowd's level on, named after the agent's file.</summary>
    private sealed class CrowdLogger(AgentCrowd crowd, int agent, string name) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information || logLevel >= crowd._level;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == ConnectedEvent)
            {
                crowd.OnConnected(agent);
            }
            else if (logLevel >= crowd._level)
            {
                crowd._say($"agent {name}: {formatter(state, exception)}");
            }
        }
    }
}
