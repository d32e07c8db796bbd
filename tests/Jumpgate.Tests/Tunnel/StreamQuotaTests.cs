using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Tunnel;
using Jumpgate.Tests.Store;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Jumpgate.Tests.Tunnel;

/// <summary>Streams are counted per trunk and per user across their trunks; refusals say which limit, and are audited once, not each.</summary>
public sealed class StreamQuotaTests : IAsyncDisposable
{
    private readonly TempStore _temp = new("jg-quota");
    private readonly AuditLog _audit;
    private readonly StreamQuota _quota;

    public StreamQuotaTests()
    {
        _audit = new AuditLog(_temp.Store.Audit, _temp.Store.Health, new AuditFile(_temp.Directory.File("audit.jsonl")), TimeProvider.System, NullLogger<AuditLog>.Instance);
        _quota = new StreamQuota(new TrunkOptions { MaxStreams = 3, MaxStreamsPerUser = 4, MaxPending = 2, MaxPendingPerUser = 3 }, _audit, TimeProvider.System, NullLogger<StreamQuota>.Instance);
    }

    public async ValueTask DisposeAsync()
    {
        await _audit.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public void StreamsInADirectSessionCountAgainstTheUsersLimitButNotTheConnectionsOrThePendingOnes()
    {
        var session = _quota.ForTrunk("carol", "127.0.0.1:1003");
        var trunk = _quota.ForTrunk("carol", "127.0.0.1:1004");

        // Past a connection's own limit (3) and never pending: the session's limit is the agent's to keep.
        var counted = Enumerable.Range(0, 4).Select(i => _quota.TryCount(session, out _)).ToList();
        Assert.All(counted, Assert.NotNull);
        Assert.Null(_quota.TryCount(session, out var refusal));
        Assert.Equal("too many streams: user carol has 4 open, the gateway's limit; close some and try again", refusal);
        Assert.Null(_quota.TryAdmit(trunk, out var elsewhere));
        Assert.Equal(refusal, elsewhere);

        counted[0]!.Dispose();
        Assert.NotNull(_quota.TryAdmit(trunk, out _));
    }

    [Fact]
    public void PlacesHeldForADirectSessionCountAsOpenUntilUsedAndClosedOrGivenBack()
    {
        var session = _quota.ForTrunk("dave", "127.0.0.1:1005");
        var trunk = _quota.ForTrunk("dave", "127.0.0.1:1006");
        var legs = _quota.TryAdmit(trunk, out _)!;
        legs.Requested();

        // Asked for more than the room left: held as far as it goes, and the rest is the limit in words.
        Assert.Equal(3, _quota.TryHold(session, 8, out _));
        Assert.Equal(0, _quota.TryHold(session, 1, out var full));
        Assert.Equal("too many streams: user dave has 4 open (3 of them held for the next connections of a direct session), the gateway's limit; close some and try again", full);
        Assert.Null(_quota.TryAdmit(trunk, out var elsewhere));
        Assert.Equal(full, elsewhere);

        // A stream takes a held place: still counted, no longer held; closed, its place is the user's again.
        var used = _quota.Use(session);
        Assert.Equal(0, _quota.TryHold(session, 1, out var stillFull));
        Assert.Equal("too many streams: user dave has 4 open (2 of them held for the next connections of a direct session), the gateway's limit; close some and try again", stillFull);
        used.Dispose();
        Assert.Equal(1, _quota.TryHold(session, 1, out _));

        // The session ends: what it held and never used goes back.
        _quota.Release(session, 3);
        Assert.Equal(3, _quota.TryHold(session, 3, out _));
    }

    [Fact]
    public async Task CountsPendingAndOpenStreamsPerTrunkAndPerUserAndAuditsTheFirstRefusalOnly()
    {
        var first = _quota.ForTrunk("alice", "127.0.0.1:1000");
        var second = _quota.ForTrunk("alice", "127.0.0.1:1001");
        var bob = _quota.ForTrunk("bob", "127.0.0.1:1002");

        var a = _quota.TryAdmit(first, out _)!;
        var b = _quota.TryAdmit(first, out _)!;
        Assert.Null(_quota.TryAdmit(first, out var pending));
        Assert.Equal("too many streams opening at once: 2 on this connection have not sent their request yet; try again in a moment", pending);
        var c = _quota.TryAdmit(second, out _)!;
        Assert.Null(_quota.TryAdmit(second, out var userPending));
        Assert.Equal("too many streams opening at once: user alice has 3 that have not sent their request yet; try again in a moment", userPending);
        Assert.NotNull(_quota.TryAdmit(bob, out _));

        // Requests arrive: the streams are open, no longer pending.
        a.Requested();
        b.Requested();
        c.Requested();
        var d = _quota.TryAdmit(first, out _)!;
        d.Requested();
        Assert.Null(_quota.TryAdmit(first, out var open));
        Assert.Equal("too many streams: 3 are open on this connection, the gateway's limit; close some and try again", open);
        Assert.Null(_quota.TryAdmit(second, out var userOpen));
        Assert.Equal("too many streams: user alice has 4 open, the gateway's limit; close some and try again", userOpen);

        // A stream that ends frees its place, once however often it is disposed.
        a.Dispose();
        a.Dispose();
        Assert.NotNull(_quota.TryAdmit(second, out _));
        Assert.Null(_quota.TryAdmit(second, out _));

        await _audit.DisposeAsync();
        var refused = _temp.Store.Audit.Query(new AuditQuery(User: "alice")).Where(e => e.Outcome == "refused").ToList();
        Assert.Equal(pending, Assert.Single(refused).Reason);
    }
}
