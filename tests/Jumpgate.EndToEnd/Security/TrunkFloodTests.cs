using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>
/// One user floods a trunk with new streams (a 1-byte data frame for each new id, which opens a
/// stream that never sends its request), on a real gateway with two agents: the streams beyond
/// the gateway's limits are refused in words and audited as summaries, the gateway's memory
/// stays put, both agents stay connected, and another user's streams open meanwhile. Bounded in
/// count (<see cref="Frames"/>) and time (<see cref="Budget"/>).
/// </summary>
public sealed class TrunkFloodTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>The attack's size: 2.7 MB of frames, which took the gateway from 83 MB to 852 MB before the limits.</summary>
    private const int Frames = 300_000;

    private const long Goal = 64L << 20;

    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(120);

    private AccessFixture _fixture = null!;

    private Deployment Deployment => _fixture.Deployment;

    public async Task InitializeAsync()
    {
        _fixture = await AccessFixture.StartAsync(output);
        await Deployment.AddAgentAsync("lab-b", "node2");
        await Deployment.StartAgentAsync("lab-b", $"""
            node2:
              address: 127.0.0.1
              services:
                echo: {_fixture.Echo.Port}
            """);
    }

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task AFloodOfNewStreamsOnOneTrunkIsRefusedAndAuditedWhileAgentsStayConnectedAndAnotherUserIsServed()
    {
        var mallory = await Deployment.AddUserAsync("mallory");
        var alice = await Deployment.AddUserAsync("alice");
        var gateway = Deployment.Gateway!;
        using var budget = new CancellationTokenSource(Budget);
        var baseline = await MeasureStreamAsync(alice, "node2");
        output.WriteLine($"alice's stream before the flood: connect {baseline.Connect.TotalMilliseconds:0} ms, round trip p50 {baseline.P50.TotalMilliseconds:0.0} ms");
        var before = ResidentBytes(gateway.Id);
        var peak = before;
        using var stopSampling = new CancellationTokenSource();
        var sampling = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, ResidentBytes(gateway.Id));
                await Task.Delay(20, CancellationToken.None);
            }
        }, CancellationToken.None);

        await using var trunk = await RawUserTrunk.OpenAsync(Deployment.GatewayUrl, mallory, Signals.Timeout(30));
        Assert.True(trunk.Client.Ok, trunk.Client.Error);
        var refused = 0;
        var refusal = "";
        var reading = Task.Run(async () =>
        {
            while (await trunk.ReadFrameAsync(budget.Token) is { } frame)
            {
                if (frame.Type == RawUserTrunk.Data)
                {
                    using var answer = JsonDocument.Parse(frame.Payload.AsMemory(2));
                    refusal = answer.RootElement.GetProperty("error").GetString()!;
                    refused++;
                }
            }
        }, CancellationToken.None);

        // The flood: one data frame of one byte for each new id, written as fast as the connection takes them.
        var flooding = Stopwatch.StartNew();
        var sending = Task.Run(async () =>
        {
            var chunk = new MemoryStream();
            for (var id = 1u; id <= Frames; id++)
            {
                chunk.Write(RawUserTrunk.Frame(RawUserTrunk.Data, id, [(byte)'{']));
                if (chunk.Length >= 64 * 1024 || id == Frames)
                {
                    await trunk.Stream.WriteAsync(chunk.GetBuffer().AsMemory(0, (int)chunk.Length), budget.Token);
                    chunk.SetLength(0);
                }
            }
            return flooding.Elapsed;
        }, CancellationToken.None);

        // Another user, on the other agent and on the first, while the flood arrives.
        var during = await MeasureStreamAsync(alice, "node2");
        var duringFirst = await MeasureStreamAsync(alice, "node1");
        var sent = await sending.WaitAsync(budget.Token);
        output.WriteLine($"mallory sent {Frames} one-byte new-stream frames ({Frames * 9 / 1e6:0.0} MB) in {sent.TotalSeconds:0.00} s");
        output.WriteLine($"alice's stream during the flood: via lab-b connect {during.Connect.TotalMilliseconds:0} ms, round trip p50 {during.P50.TotalMilliseconds:0.0} ms, max {during.Max.TotalMilliseconds:0.0} ms; via lab-a connect {duringFirst.Connect.TotalMilliseconds:0} ms");

        // Every stream past the limit of pending streams is answered with a refusal.
        var answered = await Signals.UntilAsync(() => Task.FromResult(refused >= Frames - 64 || reading.IsCompleted), Signals.Timeout(60), TimeSpan.FromMilliseconds(100));
        output.WriteLine($"mallory got {refused} refusals ({flooding.Elapsed.TotalSeconds:0.0} s after the flood began){(reading.IsCompleted ? "; the gateway closed the trunk" : "")}: \"{refusal}\"");
        var atFlood = ResidentBytes(gateway.Id);
        var settled = await Signals.UntilAsync(() => Task.FromResult(ResidentBytes(gateway.Id) - before < Goal), Signals.Timeout(20), TimeSpan.FromMilliseconds(200));
        var after = ResidentBytes(gateway.Id);
        await stopSampling.CancelAsync();
        await sampling;
        output.WriteLine($"gateway resident memory: before {Mib(before)} MiB, peak {Mib(peak)} MiB (growth {Mib(peak - before)} MiB), when answered {Mib(atFlood)} MiB, within 20 s after {Mib(after)} MiB");
        Assert.True(peak - before < Goal, $"the gateway grew by {Mib(peak - before)} MiB under the flood (goal: under {Mib(Goal)} MiB)");
        Assert.True(settled, $"the gateway still holds {Mib(after - before)} MiB more than before, 20 s after the flood");
        Assert.True(answered, $"only {refused} of the {Frames} streams were answered");
        Assert.True(refused >= Frames - 64, $"only {refused} of the {Frames} streams were refused");
        Assert.StartsWith("too many streams", refusal, StringComparison.Ordinal);

        // Both agents stayed: no session dropped, and both still serve.
        Assert.DoesNotContain("disconnected", gateway.Output, StringComparison.Ordinal);
        var afterwards = await MeasureStreamAsync(alice, "node1");
        output.WriteLine($"alice's stream after the flood: connect {afterwards.Connect.TotalMilliseconds:0} ms, round trip p50 {afterwards.P50.TotalMilliseconds:0.0} ms");

        // The refusals are in the audit as a few summaries, not one event each.
        List<JsonElement> summaries = [];
        Assert.True(await Signals.UntilAsync(async () =>
        {
            summaries = (await AuditAsync()).Where(e => e.GetProperty("event").GetString() == "stream" && e.GetProperty("outcome").GetString() == "refused"
                && e.TryGetProperty("user", out var user) && user.GetString() == "mallory").ToList();
            return summaries.Count >= 2;
        }, Signals.Timeout(30), TimeSpan.FromMilliseconds(250)), "the audit never summed up mallory's refused streams");
        foreach (var summary in summaries)
        {
            output.WriteLine($"audit: {summary}");
        }
        var audited = (await AuditAsync()).Where(e => e.GetProperty("event").GetString() == "stream" && e.TryGetProperty("user", out var user) && user.GetString() == "mallory").ToList();
        Assert.True(audited.Count <= 2 + (int)(flooding.Elapsed.TotalSeconds / 10) + 2, $"{audited.Count} audit events for mallory's flood");
        Assert.Contains(summaries, s => s.GetProperty("reason").GetString()!.Contains("streams refused in the last 10 s", StringComparison.Ordinal));
        Assert.DoesNotContain((await AuditAsync()), e => e.GetProperty("event").GetString() == "agent" && e.GetProperty("outcome").GetString() == "disconnected");
    }

    private Task<StreamLatency> MeasureStreamAsync(string token, string host) => StreamLatency.MeasureAsync(Deployment.GatewayUrl, token, host);

    private async Task<List<JsonElement>> AuditAsync()
    {
        var path = Path.Combine(Deployment.GatewayDir, "audit.jsonl");
        if (!File.Exists(path))
        {
            return [];
        }
        var lines = await File.ReadAllLinesAsync(path, Encoding.UTF8);
        return lines.Where(line => line.Length > 0).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
    }

    private static long ResidentBytes(int pid) => ProcessMemory.ResidentKiB(pid) * 1024;

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
