using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Auth;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Jumpgate.Tests.Store;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>One sweep of the access monitor over live grants, against a real store.</summary>
public sealed class AccessMonitorTests : IDisposable
{
    private readonly TempStore _temp = new("jg-monitor");
    private readonly ManualTime _time = new();
    private readonly AccessMonitor _monitor;

    public AccessMonitorTests()
    {
        _monitor = new AccessMonitor(_temp.Access, _temp.Store.Health, _time, NullLogger<AccessMonitor>.Instance, new Gateway.Configuration.AccessOptions());
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void AStreamStillAllowedStaysOpen()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, _time.GetUtcNow());
        using var stream = _monitor.TrackStream("alice", token.Id, "node1", "ssh", "lab-a");

        _monitor.Sweep();

        Assert.False(stream.Revoked.IsCancellationRequested);
        Assert.Null(stream.Reason);
    }

    [Fact]
    public void ARuleChangeClosesOnlyTheStreamsItNoLongerAllows()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, _time.GetUtcNow());
        _temp.Store.Rules.Grant(new AccessRule("alice", HostPatterns.Parse("node1"), ["ssh"]), _time.GetUtcNow());
        using var ssh = _monitor.TrackStream("alice", token.Id, "node1", "ssh", "lab-a");
        using var jupyter = _monitor.TrackStream("alice", token.Id, "node1", "jupyter", "lab-a");

        _temp.Store.Rules.Revoke(new AccessRule("@everyone", HostPatterns.Parse("*"), []));
        _monitor.Sweep();

        Assert.False(ssh.Revoked.IsCancellationRequested);
        Assert.True(jupyter.Revoked.IsCancellationRequested);
        Assert.Equal("the rules changed: user alice may not reach node1:jupyter", jupyter.Reason);
    }

    [Fact]
    public void AnExpiredTokenClosesItsStreamsAndARevokedAgentItsSessionAndStreams()
    {
        _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, _time.GetUtcNow());
        var shortLived = _temp.Store.Tokens.Add(PrincipalKind.User, "alice", _time.GetUtcNow(), _time.GetUtcNow().AddSeconds(10));
        var longLived = _temp.Store.Tokens.Add(PrincipalKind.User, "alice", _time.GetUtcNow(), null);
        var agentToken = _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-b", HostPatterns.Parse("*"), _time.GetUtcNow());
        using var expiring = _monitor.TrackStream("alice", shortLived.Id, "node1", "ssh", "lab-a");
        using var viaAgent = _monitor.TrackStream("alice", longLived.Id, "node2", "ssh", "lab-b");
        using var agent = _monitor.TrackAgent("lab-b", agentToken.Id);

        _time.Advance(TimeSpan.FromSeconds(11));
        _temp.Store.Principals.SetDisabled(PrincipalKind.Agent, "lab-b", true);
        _monitor.Sweep();

        Assert.Equal("user alice was disabled or the token was revoked or expired", expiring.Reason);
        Assert.Equal("agent lab-b was disabled or its token was revoked or expired", agent.Reason);
        Assert.Equal("agent lab-b was disabled or its token was revoked or expired", viaAgent.Reason);
    }

    [Fact]
    public void ADisposedGrantIsNoLongerChecked()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, _time.GetUtcNow());
        var stream = _monitor.TrackStream("alice", token.Id, "node1", "ssh", "lab-a");

        stream.Dispose();

        Assert.Equal(0, _monitor.Count);
    }
}
