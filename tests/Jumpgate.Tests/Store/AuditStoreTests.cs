using Jumpgate.Core.Audit;
using Jumpgate.Gateway.Store;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>The audit table in each backend: what a batch appends comes back whole, and the admin's filters pick from it.</summary>
public sealed class AuditStoreTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void BatchesComeBackWholeOldestFirst(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-audit");
        AuditEvent[] first =
        [
            new()
            {
                Time = Now.AddTicks(1234567), Event = AuditEvent.KindStream, Outcome = "closed", User = "alice", Agent = "lab-a",
                Source = "127.0.0.1:50000", Host = "node1", Service = "ssh", Start = Now, End = Now.AddTicks(1234567),
                BytesUp = 5_000_000_000, BytesDown = 0, Reason = "the client went away",
            },
            new() { Time = Now.AddSeconds(1), Event = AuditEvent.KindAdmin, Outcome = "ok", Admin = "boss", Reason = "revoke tok_1" },
        ];
        AuditEvent[] second = [new() { Time = Now.AddSeconds(2), Event = AuditEvent.KindStream, Outcome = "refused", User = "bob", Host = "node2" }];

        temp.Store.Audit.Append(first);
        temp.Store.Audit.Append(second);

        Assert.Equal([.. first, .. second], temp.Store.Audit.Query(new AuditQuery()));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void FiltersPickTheNewestThatMatch(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-audit");
        temp.Store.Audit.Append([.. Enumerable.Range(0, 20).Select(i => new AuditEvent
        {
            Time = Now.AddSeconds(i), Event = i % 5 == 0 ? AuditEvent.KindAdmin : AuditEvent.KindStream, Outcome = "ok",
            User = i % 2 == 0 ? "alice" : "bob", Host = i % 3 == 0 ? "node1" : "node2",
        })]);

        Assert.Equal([10, 12, 14, 16, 18], Seconds(temp.Store.Audit.Query(new AuditQuery(User: "alice", Since: Now.AddSeconds(10)))));
        Assert.Equal([15, 18], Seconds(temp.Store.Audit.Query(new AuditQuery(Host: "node1", Limit: 2))));
        Assert.Equal([0, 10], Seconds(temp.Store.Audit.Query(new AuditQuery(User: "alice", Event: AuditEvent.KindAdmin))));
        Assert.Empty(temp.Store.Audit.Query(new AuditQuery(User: "carol")));
    }

    private static IEnumerable<int> Seconds(IReadOnlyList<AuditEvent> events) => events.Select(e => (int)(e.Time - Now).TotalSeconds);
}
