using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// .NET built in Jumpgate's HTTP shape with nothing of Jumpgate in it (bench/Jumpgate.Bench.DotnetShape):
/// Kestrel's HTTPS and YARP's forwarder in one process, as the gateway, over a keep-alive TLS
/// connection to a relay of SslStream and sockets, as the agent, to an upstream. Measured beside
/// nginx in the same shape, it is what .NET's own layers allow a gateway built on them.
/// The Native AOT build where bench/run published one (as `jumpgate` is measured), else the JIT build.
/// </summary>
internal sealed class DotnetShape : IAsyncDisposable
{
    private const string Name = "Jumpgate.Bench.DotnetShape";
    private readonly List<ChildProcess> _processes = [];

    private DotnetShape(int port, bool native)
    {
        Port = port;
        Native = native;
    }

    /// <summary>The HTTPS port of the proxy.</summary>
    public int Port { get; }

    /// <summary>Whether the processes are the Native AOT build.</summary>
    public bool Native { get; }

    /// <summary>Its two processes, in the places of the gateway and the agent, for their CPU and wake-ups.</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<int> Pids)> Processes { get; private set; } = [];

    /// <summary>The native binary bench/run published (when <paramref name="native"/>: the run measures Native AOT), else the JIT build's assembly; null when not built.</summary>
    private static (string Executable, IReadOnlyList<string> Prefix, bool Native)? Find(bool native)
    {
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", ".."));
        var published = Path.Combine(root, "bin", "dotnet-shape", Name);
        if (native && File.Exists(published))
        {
            return (published, [], true);
        }
        var jit = Path.Combine(root, Name, "bin", "Release", "net10.0", Name + ".dll");
        return File.Exists(jit) ? ("dotnet", [jit], false) : null;
    }

    /// <summary>Starts the relay and the proxy in front of <paramref name="upstreamPort"/>; null when the program was not built.</summary>
    public static async Task<DotnetShape?> StartAsync(int upstreamPort, bool native)
    {
        if (Find(native) is not { } program)
        {
            return null;
        }
        var relayPort = Ports.Free();
        var shape = new DotnetShape(Ports.Free(), program.Native);
        try
        {
            var relay = ChildProcess.Start(".NET relay", program.Executable, [.. program.Prefix, "relay", relayPort.ToString(System.Globalization.CultureInfo.InvariantCulture), upstreamPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], null);
            shape._processes.Add(relay);
            await Ports.WaitListeningAsync(relayPort, ".NET relay", relay, Signals.Timeout(30));
            var proxy = ChildProcess.Start(".NET proxy", program.Executable, [.. program.Prefix, "proxy", shape.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), relayPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], null);
            shape._processes.Add(proxy);
            await Ports.WaitListeningAsync(shape.Port, ".NET proxy", proxy, Signals.Timeout(30));
            shape.Processes = [("proxy", [proxy.Id]), ("relay", [relay.Id])];
            return shape;
        }
        catch
        {
            await shape.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
    }
}
