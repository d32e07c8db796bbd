using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>What every backend keeps across openings, and the generation that every cache of it is tagged with.</summary>
public sealed class StoreGenerationTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void SurvivesReopening(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-reopen");
        var token = temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        temp.Store.Hosts.Replace("lab-a", [new HostAnnouncement { Name = "node1", Services = [new ServiceAnnouncement { Name = "ssh", Port = 22 }] }], Now);
        SqliteConnection.ClearAllPools();

        using var reopened = temp.Location.Open(TempStore.RecheckInterval);

        Assert.Equal("alice", new AccessCache(reopened.Tokens, reopened.Rules, reopened.Generation).Authenticate(token.ToString(), PrincipalKind.User, Now)?.Name);
        Assert.Equal(["node1"], reopened.Hosts.List().Select(h => h.Name));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void EveryWriteThatACacheDependsOnMovesTheGenerationAndNoOtherDoes(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-generation");
        var generation = temp.Store.Generation;
        var moves = new List<(string Write, bool Moved)>();
        void Check(string write, Action action)
        {
            var before = generation.Read();
            action();
            moves.Add((write, generation.Read() != before));
        }
        TokenSecret token = null!;

        Check("add user", () => token = temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now));
        Check("add token", () => temp.Store.Tokens.Add(PrincipalKind.User, "alice", Now, null));
        Check("group", () => temp.Store.Principals.AddToGroups("alice", ["gpu"]));
        Check("grant", () => temp.Store.Rules.Grant(new Gateway.Access.AccessRule("@gpu", Core.Naming.HostPatterns.Parse("node*"), []), Now));
        Check("sign in", () => temp.Store.WebSessions.Create("alice", token.Id, "gw.example.org", "s1", Now, Now.AddHours(1)));
        Check("sign out", () => temp.Store.WebSessions.DeleteSignIn("s1"));
        Check("revoke", () => temp.Store.Tokens.Revoke(token.Id));
        Check("disable", () => temp.Store.Principals.SetDisabled(PrincipalKind.User, "alice", true));
        Check("hosts", () => temp.Store.Hosts.Replace("lab-a", [], Now));
        Check("seen", () => temp.Store.Hosts.MarkSeen("lab-a", Now));
        Check("audit", () => temp.Store.Audit.Append([new Core.Audit.AuditEvent { Time = Now, Event = "stream", Outcome = "opened" }]));

        Assert.Equal(
            [("add user", true), ("add token", true), ("group", true), ("grant", true), ("sign in", true), ("sign out", true),
             ("revoke", true), ("disable", true), ("hosts", false), ("seen", false), ("audit", false)],
            moves);
    }
}
