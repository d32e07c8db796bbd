using System.Text;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A direct session (`forward`'s) as the gateway keeps it, driven through the CLI's own session
/// code: the agent's reports reach the audit even over a control connection that was cut and came
/// back while the session's legs stayed up, and the gateway closes a session that a client keeps
/// open with no stream in it, whatever the client does.
/// </summary>
public sealed class DirectSessionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ReportsOverTheAgentsReconnectedControlConnectionReachTheAudit()
    {
        await using var gateway = await GatewayInProcess.StartAsync(output);
        await using var service = ScriptedService.Echo();
        await using var relay = new CuttableRelay(gateway.Port);
        await using var agent = await AgentInProcess.StartAsync(gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["echo"] = service.Port },
        }, via: relay.Url, poolSize: 1);
        await using var client = new SessionClient(gateway);
        await using var spanning = await client.OpenAsync();
        await EchoAsync(spanning, "before the cut");
        // Its open is reported beside the splice: heard before the cut, not lost in a connection that dies as it is written.
        await gateway.WaitForAuditAsync(e => e.Outcome == "opened" && e.Reason == "direct session");

        // The agent's control connection came through the relay first; only it is cut, so the session's legs (later ones) stay up.
        relay.CutOnly(0);
        Assert.True(await Signals.UntilAsync(async () => (await AgentEventsAsync(gateway, "connected")).Count == 2, Signals.Timeout(15), TimeSpan.FromMilliseconds(50)),
            "the agent did not register again after its control connection was cut");

        await EchoAsync(spanning, "after the cut");
        await spanning.DisposeAsync();
        await using (var later = await client.OpenAsync())
        {
            await EchoAsync(later, "a stream opened after the reconnect");
        }

        // Both close with the agent's counts of their bytes, not as left over when the session ended.
        var spanned = Encoding.ASCII.GetByteCount("before the cut" + "after the cut");
        var closed = await gateway.WaitForAuditAsync(e => e.Outcome == "closed" && e.Reason == "closed (direct session)" && e.BytesUp == spanned);
        Assert.Equal(spanned, closed.BytesDown);
        await gateway.WaitForAuditAsync(e => e.Outcome == "closed" && e.Reason == "closed (direct session)" && e.BytesUp == Encoding.ASCII.GetByteCount("a stream opened after the reconnect"));
    }

    [Fact]
    public async Task TheGatewayClosesASessionThatHadNoStreamForItsIdleTimeout()
    {
        var idle = TimeSpan.FromSeconds(2);
        await using var gateway = await GatewayInProcess.StartAsync(output, $"""
            trunks:
              idle_timeout: {idle.TotalSeconds:0}s
            """);
        await using var service = ScriptedService.Echo();
        await using var agent = await AgentInProcess.StartAsync(gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["echo"] = service.Port },
        });
        // A client that never closes its idle session itself, as `forward` does.
        await using var client = new SessionClient(gateway);
        await using (var quiet = await client.OpenAsync())
        {
            await EchoAsync(quiet, "an open stream");
            // An open stream keeps the session, however quiet it is: twice the idle timeout with nothing sent.
            await Task.Delay(idle * 2);
            await EchoAsync(quiet, "still open");
        }

        var closed = await gateway.WaitForAuditAsync(e => e.Outcome == "closed" && e.Reason?.StartsWith("closed (direct session legs)", StringComparison.Ordinal) == true);
        output.WriteLine($"the legs closed: {closed.Reason}, {(closed.End - closed.Start)?.TotalSeconds:0.00} s after they opened");
        Assert.Contains("no streams", closed.Reason, StringComparison.Ordinal);
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(!client.Session.IsOpen), Signals.Timeout(10), TimeSpan.FromMilliseconds(20)),
            "the client's session stayed open after the gateway closed its legs");
    }

    private static async Task<List<AuditEvent>> AgentEventsAsync(GatewayInProcess gateway, string outcome) =>
        [.. (await gateway.Admin.AuditAsync(null, null, null, 1000, AuditEvent.KindAgent, CancellationToken.None)).Where(e => e.Outcome == outcome)];

    private static async Task EchoAsync(TrunkStream stream, string text)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        var bytes = Encoding.ASCII.GetBytes(text);
        await stream.WriteAsync(bytes, deadline.Token);
        var back = new byte[bytes.Length];
        await stream.ReadExactlyAsync(back, deadline.Token);
        Assert.Equal(text, Encoding.ASCII.GetString(back));
    }

    /// <summary>What `forward` holds for its direct session: a trunk to ask for it on, and the session, which never closes itself for being idle.</summary>
    private sealed class SessionClient(GatewayInProcess gateway) : IAsyncDisposable
    {
        private readonly GatewayTrunk _trunk = gateway.OpenTrunk();

        public DirectSession Session { get; } = new(gateway.TrunkFailed);

        /// <summary>A stream to node1's echo in the session, made on the first call; returns once the agent answered yes.</summary>
        public async Task<TrunkStream> OpenAsync()
        {
            using var deadline = new CancellationTokenSource(Signals.Timeout(15));
            var stream = await Session.TryStartAsync("node1", "echo", deadline.Token);
            if (stream is null)
            {
                await using var request = await _trunk.StartAsync("node1", "echo", deadline.Token, StreamPathChoice.Default, session: true);
                var answer = await _trunk.ReadAnswerAsync(request, deadline.Token);
                Assert.True(answer.Direct is { Session: true }, "the gateway made no direct session");
                stream = await Session.JoinAsync(_trunk.Gateway, answer.Direct, Timeout.InfiniteTimeSpan, "node1", "echo", deadline.Token);
            }
            var reply = await StreamOpener.ReadAnswerAsync(stream, deadline.Token);
            if (!reply.Ok)
            {
                await stream.DisposeAsync();
                throw new GatewayException(reply.Error ?? "refused", refused: true);
            }
            return stream;
        }

        public async ValueTask DisposeAsync()
        {
            await Session.DisposeAsync();
            await _trunk.DisposeAsync();
        }
    }
}
