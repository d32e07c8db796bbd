using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Access;

/// <summary>Streams, refusals, agent sessions and failed authentications are audit events, in audit.jsonl and in `jumpgate gateway audit`.</summary>
public sealed class AuditTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task EveryStreamDenialAndFailedAuthenticationIsAnAuditEventWithoutAnySecret()
    {
        var payload = new byte[10_000];
        Random.Shared.NextBytes(payload);
        await using (var stream = await _fixture.ConnectAsync("node1", "echo"))
        {
            Assert.True(stream.Ok, stream.Error);
            Assert.Equal(payload, await EchoServer.RoundTripAsync(stream.Stream, payload, Signals.Timeout(10)));
        }
        await _fixture.Deployment.Gateway!.WaitForLineAsync("stream researcher -> node1:echo via lab-a closed", Signals.Timeout(15));
        await _fixture.AdminAsync("revoke", "@everyone", "*");
        await using (var denied = await _fixture.ConnectAsync("node1", "web"))
        {
            Assert.Equal("user researcher may not reach node1:web", denied.Error);
        }
        var forged = "jgu_000000000000_" + new string('A', 43);
        await using (var wrong = await _fixture.ConnectAsync("node1", "echo", forged))
        {
            Assert.Equal("invalid or revoked token", wrong.Error);
        }

        // The audit writer is asynchronous by design (a stream never waits on a disk): poll, bounded.
        List<JsonElement> events = [];
        Assert.True(await Signals.UntilAsync(async () =>
        {
            events = await AuditAsync();
            return events.Any(e => Is(e, "auth", "failed")) && events.Any(e => Is(e, "stream", "denied"));
        }, Signals.Timeout(15), TimeSpan.FromMilliseconds(200)), "the audit table never showed the denial and the failed authentication");

        var agent = Assert.Single(events, e => Is(e, "agent", "connected"));
        Assert.Equal("lab-a", agent.GetProperty("agent").GetString());
        var opened = Assert.Single(events, e => Is(e, "stream", "opened"));
        Assert.Equal("researcher", opened.GetProperty("user").GetString());
        Assert.StartsWith("127.0.0.1:", opened.GetProperty("source").GetString());
        var closed = Assert.Single(events, e => Is(e, "stream", "closed"));
        Assert.Equal(("node1", "echo", "lab-a"), (closed.GetProperty("host").GetString(), closed.GetProperty("service").GetString(), closed.GetProperty("agent").GetString()));
        Assert.Equal(payload.Length, closed.GetProperty("bytes_up").GetInt64());
        Assert.Equal(payload.Length, closed.GetProperty("bytes_down").GetInt64());
        Assert.True(closed.GetProperty("end").GetDateTimeOffset() >= closed.GetProperty("start").GetDateTimeOffset());
        var denial = Assert.Single(events, e => Is(e, "stream", "denied"));
        Assert.Equal("user researcher may not reach node1:web", denial.GetProperty("reason").GetString());
        var failure = Assert.Single(events, e => Is(e, "auth", "failed"));
        Assert.StartsWith("127.0.0.1:", failure.GetProperty("source").GetString());

        var file = Path.Combine(_fixture.Deployment.GatewayDir, "audit.jsonl");
        var lines = await File.ReadAllLinesAsync(file);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        // Changes made by local admin commands are in the table only: audit.jsonl is the running gateway's (docs/access-control.md).
        var local = events.Count(e => e.TryGetProperty("admin", out var admin) && admin.GetString()!.StartsWith("local:", StringComparison.Ordinal));
        Assert.True(local > 0, "the local add-user and add-agent were not audited");
        Assert.True(lines.Length >= events.Count - local, "audit.jsonl holds fewer events than the audit table");
        Assert.All(lines, line => JsonDocument.Parse(line));
        var everything = string.Join('\n', lines) + (await _fixture.AdminAsync("audit")).Stdout;
        foreach (var token in _fixture.Deployment.Tokens.Append(forged))
        {
            Assert.DoesNotContain(token[^43..], everything);
        }
    }

    [Fact]
    public async Task TheAuditCommandFiltersByUserHostAndTime()
    {
        var alice = (await _fixture.AdminAsync("add-user", "alice")).Stdout.Trim();
        _fixture.Deployment.Tokens.Add(alice);
        await using (var a = await _fixture.ConnectAsync("lab-pc", "echo", alice))
        await using (var r = await _fixture.ConnectAsync("node1", "echo"))
        {
            Assert.True(a.Ok && r.Ok);
        }
        Assert.True(await Signals.UntilAsync(async () => (await AuditAsync()).Count(e => Is(e, "stream", "opened")) == 2, Signals.Timeout(15), TimeSpan.FromMilliseconds(200)));

        var byUser = await AuditAsync("--user", "alice");
        var byHost = await AuditAsync("--host", "node1");
        var recent = await AuditAsync("--since", "1h");
        var future = await AuditAsync("--since", "0s");

        Assert.NotEmpty(byUser);
        Assert.All(byUser, e => Assert.Equal("alice", e.GetProperty("user").GetString()));
        Assert.NotEmpty(byHost);
        Assert.All(byHost, e => Assert.Equal("node1", e.GetProperty("host").GetString()));
        Assert.Equal((await AuditAsync()).Count, recent.Count);
        Assert.Empty(future);
        var text = await _fixture.AdminAsync("audit", "--user", "alice");
        Assert.Contains(text.Stdout.Split('\n'), l => l.Contains("stream", StringComparison.Ordinal) && l.Contains("lab-pc:echo", StringComparison.Ordinal));
    }

    private async Task<List<JsonElement>> AuditAsync(params string[] filters)
    {
        var result = await _fixture.AdminAsync(["audit", "--json", .. filters]);
        return [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone())];
    }

    private static bool Is(JsonElement e, string kind, string outcome) =>
        e.GetProperty("event").GetString() == kind && e.GetProperty("outcome").GetString() == outcome;
}
