using System.Text.Json;
using Jumpgate.Core.Audit;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Store;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Audit;

/// <summary>The audit log writes every event to audit.jsonl and to the store's table, and the table answers queries.</summary>
public sealed class AuditLogTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-auditlog");


    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task EventsReachTheFileAndTheTableAndDisposingWritesWhatIsQueued()
    {
        var audit = new AuditLog(_temp.Store.Audit, _temp.Store.Health, new AuditFile(_temp.Directory.File("audit.jsonl")), TimeProvider.System, NullLogger<AuditLog>.Instance);
        for (var i = 0; i < 1000; i++)
        {
            audit.Write(new AuditEvent
            {
                Time = Now.AddSeconds(i), Event = AuditEvent.KindStream, Outcome = "closed", User = i % 2 == 0 ? "alice" : "bob",
                Host = "node1", Service = "ssh", Start = Now, End = Now.AddSeconds(i), BytesUp = i, BytesDown = 2 * i,
            });
        }

        await audit.DisposeAsync();

        var lines = await File.ReadAllLinesAsync(_temp.Directory.File("audit.jsonl"));
        Assert.Equal(1000, lines.Length);
        var last = JsonDocument.Parse(lines[^1]).RootElement;
        Assert.Equal(999, last.GetProperty("bytes_up").GetInt64());
        Assert.False(last.TryGetProperty("agent", out _), "null fields are left out");
        Assert.Equal(1000, _temp.Store.Audit.Query(new AuditQuery(Limit: 5000)).Count);
        var alice = _temp.Store.Audit.Query(new AuditQuery(User: "alice", Since: Now.AddSeconds(900)));
        Assert.Equal(50, alice.Count);
        Assert.All(alice, e => Assert.Equal("alice", e.User));
        Assert.Equal(Now.AddSeconds(900), alice[0].Time);
        Assert.Equal(1800, alice[0].BytesDown);
        Assert.Equal(3, _temp.Store.Audit.Query(new AuditQuery(Limit: 3)).Count);
        Assert.Equal(Now.AddSeconds(999), _temp.Store.Audit.Query(new AuditQuery(Limit: 3))[^1].Time);
    }
}
