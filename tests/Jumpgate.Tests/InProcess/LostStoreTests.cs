using System.Collections.Concurrent;
using System.Diagnostics;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Store;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A gateway on PostgreSQL whose database stops while it runs (its own throw-away cluster, stopped
/// by its PID and started again on the same port and folder): open streams go on, a user it already
/// checked at the current generation goes on opening streams, a token it never saw is refused in
/// words that name the cause and not the database, the log says so once, and new authentications
/// work again once the database is back, with nothing restarted; an agent that leaves meanwhile is
/// still logged as gone.
/// </summary>
public sealed class LostStoreTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ServesWhatItKnowsWhileTheDatabaseIsDownAndRecoversByItself()
    {
        using var cluster = PostgresCluster.StartOwn();
        var url = cluster.Database("jg-lost-store");
        await using var service = ScriptedService.Echo();
        await using var gateway = await GatewayInProcess.StartAsync(output, store: url, user: "alice");
        var log = new ConcurrentQueue<string>();
        gateway.Output.Tap = log.Enqueue;
        var bob = await gateway.AddUserAsync("bob");
        await using var agent = await AgentInProcess.StartAsync(gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>> { ["node1"] = new Dictionary<string, int> { ["echo"] = service.Port } });
        // An agent that goes away while the database is down: the gateway cannot record when it was last seen, and still says it left.
        var leaving = await AgentInProcess.StartAsync(gateway, "lab-b", new Dictionary<string, IReadOnlyDictionary<string, int>> { ["node2"] = new Dictionary<string, int> { ["echo"] = service.Port } });
        // The agent's token was the last write. The gateway sees a write within its re-check
        // interval (100 ms here) at worst, so alice's streams opened after three intervals were
        // checked at the generation the database will have when it stops.
        var lastWrite = Stopwatch.StartNew();
        await using var open = await gateway.ConnectAsync("node1", "echo");
        await EchoAsync(open, 1);
        while (lastWrite.Elapsed < TimeSpan.FromMilliseconds(300))
        {
            await using var stream = await gateway.ConnectAsync("node1", "echo");
            await EchoAsync(stream, 2);
        }

        await cluster.StopAsync();
        output.WriteLine("database stopped");

        await EchoAsync(open, 3);
        var refusal = await RefusalAsync(gateway, bob);
        Assert.Equal(StoreHealth.Refusal, refusal);
        Assert.DoesNotContain(cluster.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), refusal, StringComparison.Ordinal);
        for (var i = 0; i < 20; i++)
        {
            // Past several re-check intervals and monitor passes: what alice was allowed stays allowed.
            await using var stream = await gateway.ConnectAsync("node1", "echo");
            await EchoAsync(stream, 4);
            Assert.Equal(StoreHealth.Refusal, await RefusalAsync(gateway, bob));
        }
        await EchoAsync(open, 5);
        await leaving.DisposeAsync();
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(log.Any(l => l.Contains("agent lab-b disconnected: ", StringComparison.Ordinal))), Signals.Timeout(10), TimeSpan.FromMilliseconds(20)),
            "the gateway did not log lab-b's disconnect while the database was down");

        cluster.StartAgain();
        output.WriteLine("database started again");
        var back = await Signals.UntilAsync(async () =>
        {
            try
            {
                await using var stream = await gateway.ConnectAsync("node1", "echo", bob);
                await EchoAsync(stream, 6);
                return true;
            }
            catch (GatewayException e) when (e.Message == StoreHealth.Refusal)
            {
                return false;
            }
        }, Signals.Timeout(30), TimeSpan.FromMilliseconds(50));
        Assert.True(back, "bob was still refused 30 s after the database came back");
        await EchoAsync(open, 7);
        var lines = log.ToArray();
        // One line when it went, one when it came back: not one per refused connection, monitor pass or audit batch.
        var errors = lines.Where(l => l.Contains(" gateway erro:", StringComparison.Ordinal) || l.Contains(" gateway crit:", StringComparison.Ordinal)).ToList();
        var returns = lines.Where(l => l.Contains("database is back after", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1 && returns.Count == 1, $"expected one line for the loss and one for the return:\n{string.Join('\n', errors.Concat(returns))}");
        Assert.Contains("database is out of reach", errors[0], StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.Contains("invalid token", StringComparison.Ordinal));
    }

    private static async Task<string> RefusalAsync(GatewayInProcess gateway, string token)
    {
        var refused = await Assert.ThrowsAsync<GatewayException>(async () => await (await gateway.ConnectAsync("node1", "echo", token)).DisposeAsync());
        return refused.Message;
    }

    private static async Task EchoAsync(TlsStream stream, byte value)
    {
        await stream.WriteAsync(new[] { value });
        var one = new byte[1];
        await stream.ReadExactlyAsync(one);
        Assert.Equal(value, one[0]);
    }
}
