using System.Diagnostics;
using Jumpgate.EndToEnd.Access;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Resilience;

/// <summary>
/// Another process (an admin command, a backup, a `sqlite3` shell) holding the store's write lock
/// does not stop new streams: a stream only reads the store, and what it writes (its audit events)
/// waits in the audit queue until the lock is free.
/// </summary>
public sealed class StoreWriteLockTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>How long the lock is held: as long as an admin command's worst moment, and long enough for many streams.</summary>
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(3);

    /// <summary>A bound on the streams opened during the hold, whatever the machine's speed.</summary>
    private const int MaxStreams = 2_000;

    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task NewStreamsKeepOpeningWhileAnotherProcessHoldsTheStoresWriteLock()
    {
        // A user whose token the gateway has never seen: its first stream reads the store under the lock.
        var token = (await _fixture.AdminAsync("add-user", "during-lock")).Stdout.Trim();
        _fixture.Deployment.Tokens.Add(token);
        var payload = new byte[1024];
        Random.Shared.NextBytes(payload);
        // One stream before the lock, so that the first one timed is not this process's own first TLS handshake.
        await using (var warm = await _fixture.ConnectAsync("node1", "echo"))
        {
            Assert.True(warm.Ok, warm.Error);
        }

        // This test process is the other process: its own connection to the gateway's file takes the write lock.
        await using var holder = new SqliteConnection($"Data Source={Path.Combine(_fixture.Deployment.GatewayDir, "gateway.db")};Pooling=False");
        holder.Open();
        Execute(holder, "BEGIN IMMEDIATE");
        var held = Stopwatch.StartNew();
        var opens = new List<(TimeSpan Open, TimeSpan At)>();
        while (held.Elapsed < Hold && opens.Count < MaxStreams)
        {
            var started = Stopwatch.StartNew();
            await using var stream = await _fixture.ConnectAsync("node1", "echo", token);
            var open = started.Elapsed;
            Assert.True(stream.Ok, $"stream {opens.Count + 1} during the lock was refused: {stream.Error}");
            opens.Add((open, held.Elapsed));
            Assert.Equal(payload, await EchoServer.RoundTripAsync(stream.Stream, payload, Signals.Timeout(10)));
        }
        // The lock was in force all along: not one of these streams' audit events could be committed.
        Assert.Equal(0L, AuditedStreams(holder));
        Execute(holder, "COMMIT");
        var released = held.Elapsed;

        var slowest = opens.Max(o => o.Open);
        var median = opens.Select(o => o.Open).Order().ElementAt(opens.Count / 2);
        output.WriteLine($"write lock held {released.TotalSeconds:0.00} s by another process: {opens.Count} new streams opened during it, " +
            $"median open {median.TotalMilliseconds:0} ms, slowest {slowest.TotalMilliseconds:0} ms");
        Assert.True(opens.Count > 1, "the loop opened fewer than two streams");
        Assert.All(opens, o => Assert.True(o.At < released, "a stream opened only after the lock was released"));

        // Then the audit catches up: every stream's opening and closing, none lost to the lock.
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(AuditedStreams(holder) == 2L * opens.Count), Signals.Timeout(30), TimeSpan.FromMilliseconds(200)),
            $"the audit table holds {AuditedStreams(holder)} stream events of the {opens.Count} streams, not {2 * opens.Count}");
    }

    /// <summary>The audit table's opened and closed events of the streams this test made, as committed now.</summary>
    private static long AuditedStreams(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM audit WHERE event = 'stream' AND user = 'during-lock' AND outcome IN ('opened', 'closed')";
        return (long)command.ExecuteScalar()!;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
