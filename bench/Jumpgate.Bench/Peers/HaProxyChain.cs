using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// Plain TCP relays in a row, each an HAProxy process of its own with one thread that splices in
/// the kernel (`option splice-request`, `splice-response`): the gateway and the agent on the SSH
/// path, built of C that relays as they do. ssh dials the first as it dials the gateway's leg.
/// </summary>
internal sealed class HaProxyChain : IAsyncDisposable
{
    private readonly TempDirectory _dir = new("jg-bench-haproxy");
    private readonly List<ChildProcess> _processes = [];

    /// <summary>The first relay's port.</summary>
    public int Port { get; private set; }

    public IReadOnlyList<int> Pids => [.. _processes.Select(p => p.Id)];

    public static string? Executable => File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : null;

    public static async Task<HaProxyChain> StartAsync(int target, int relays)
    {
        var chain = new HaProxyChain();
        try
        {
            var next = target;
            for (var i = relays; i > 0; i--)
            {
                next = await chain.StartRelayAsync($"relay{i}", next);
            }
            chain.Port = next;
            return chain;
        }
        catch
        {
            await chain.DisposeAsync();
            throw;
        }
    }

    private async Task<int> StartRelayAsync(string name, int target)
    {
        var port = Ports.Free();
        var config = _dir.File($"{name}.cfg");
        await File.WriteAllTextAsync(config, $"""
            global
                nbthread 1
                maxconn 1000
            defaults
                mode tcp
                timeout connect 10s
                timeout client 10m
                timeout server 10m
                option splice-request
                option splice-response
            listen {name}
                bind 127.0.0.1:{port}
                server next 127.0.0.1:{target}

            """);
        var process = ChildProcess.Start($"haproxy {name}", Executable!, ["-db", "-f", config], null);
        _processes.Add(process);
        await Ports.WaitListeningAsync(port, $"haproxy {name}", process, Signals.Timeout(20));
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
        _dir.Dispose();
    }
}
