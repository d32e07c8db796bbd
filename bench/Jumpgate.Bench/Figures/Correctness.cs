using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Before anything is timed: every path echoes 1 MiB unchanged (checked when the rig starts), and
/// here, whether it carries the end of a connection. Half-close: the client shuts down writing, the
/// echo server sees EOF and closes, the client must see EOF. Close: the client closes after an
/// echo, and the relay's connection to the echo server must close too. A path that fails either
/// leaves such connections open for as long as it runs.
/// </summary>
internal static class Correctness
{
    private const int Closes = 5;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        foreach (var path in rig.Paths)
        {
            var halfClose = await EchoProbe.HalfCloseAsync(path.EchoPort, TimeSpan.FromSeconds(3));
            // The half-close probe may itself have left a connection open; count from here.
            var before = Ports.EstablishedOn(rig.Echo.Port);
            for (var i = 0; i < Closes; i++)
            {
                var payload = new byte[64];
                Random.Shared.NextBytes(payload);
                if (!EchoProbe.RoundTrip(path.EchoPort, payload, new byte[64]))
                {
                    throw new InvalidOperationException($"{path.Name}: a 64-byte echo failed");
                }
            }
            await Signals.UntilAsync(() => Task.FromResult(Ports.EstablishedOn(rig.Echo.Port) <= before), TimeSpan.FromSeconds(2));
            var leftOpen = Math.Max(0, Ports.EstablishedOn(rig.Echo.Port) - before);
            say($"end of connection through {path.Name}: half-close {halfClose ?? "carried"}; {leftOpen} of {Closes} closed connections left open at the service");
            var result = (halfClose is null ? "half-close yes" : $"half-close **no** ({halfClose})") + "; " +
                (leftOpen == 0 ? "close yes" : $"close **no** ({leftOpen} of {Closes} connections the client closed stay open at the service after 2 s)");
            table.Add(new Row("end of connection carried (checked, not timed)", path.Name, result));
        }
    }
}
