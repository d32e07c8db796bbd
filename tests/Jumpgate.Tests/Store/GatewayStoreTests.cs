using System.Text;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Store;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>The store on a real SQLite file, as the gateway and the admin commands use it.</summary>
public sealed class GatewayStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-store");


    public void Dispose() => _temp.Dispose();

    [Fact]
    public void AUsersTokenAuthenticatesAsThatUser()
    {
        var token = _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);

        var principal = _temp.Store.Authenticate(token.ToString(), PrincipalKind.User, Now);

        Assert.NotNull(principal);
        Assert.Equal(new Principal(PrincipalKind.User, "alice", null, token.Id), principal);
        Assert.Equal(PrincipalKind.User, token.Kind);
    }

    [Fact]
    public void AnAgentsTokenAuthenticatesWithItsHostPatterns()
    {
        var token = _temp.Store.AddPrincipal(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*,lab-pc"), Now);

        var principal = _temp.Store.Authenticate(token.ToString(), PrincipalKind.Agent, Now);

        Assert.NotNull(principal);
        Assert.Equal("lab-a", principal.Name);
        Assert.Equal(PrincipalKind.Agent, principal.Kind);
        Assert.Equal(HostPatterns.Parse("node*,lab-pc"), principal.HostPatterns);
        Assert.True(principal.HostPatterns!.Allows("node7"));
    }

    [Fact]
    public void ATokenOfOneKindNeverPassesForTheOther()
    {
        var agent = _temp.Store.AddPrincipal(PrincipalKind.Agent, "shared-name", HostPatterns.Parse("*"), Now);
        var user = _temp.Store.AddPrincipal(PrincipalKind.User, "shared-name", null, Now);

        Assert.Null(_temp.Store.Authenticate(agent.ToString(), PrincipalKind.User, Now));
        Assert.Null(_temp.Store.Authenticate(user.ToString(), PrincipalKind.Agent, Now));

        // Relabelled: the agent's id and secret presented with the user prefix.
        var relabelled = agent with { Kind = PrincipalKind.User };
        Assert.Null(_temp.Store.Authenticate(relabelled.ToString(), PrincipalKind.User, Now));
        Assert.Null(_temp.Store.Authenticate(relabelled.ToString(), PrincipalKind.Agent, Now));
    }

    [Fact]
    public void ARightIdWithAWrongSecretIsRefused()
    {
        var token = _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        var guessed = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };

        Assert.Null(_temp.Store.Authenticate(guessed.ToString(), PrincipalKind.User, Now));
    }

    [Fact]
    public void AnUnknownOrMalformedTokenIsRefused()
    {
        _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);

        Assert.Null(_temp.Store.Authenticate(TokenSecret.Create(PrincipalKind.User).ToString(), PrincipalKind.User, Now));
        Assert.Null(_temp.Store.Authenticate(null, PrincipalKind.User, Now));
        Assert.Null(_temp.Store.Authenticate("", PrincipalKind.User, Now));
        Assert.Null(_temp.Store.Authenticate("jgu_' OR 1=1 --", PrincipalKind.User, Now));
    }

    [Fact]
    public void ASecondPrincipalWithTheSameNameIsRefused()
    {
        _temp.Store.AddPrincipal(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*"), Now);

        var error = Assert.Throws<InvalidOperationException>(() => _temp.Store.AddPrincipal(PrincipalKind.Agent, "lab-a", null, Now));

        Assert.Contains("lab-a", error.Message, StringComparison.Ordinal);
        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
        Assert.Single(_temp.Store.ListPrincipals(PrincipalKind.Agent));
    }

    [Fact]
    public void ListsPrincipalsOfOneKind()
    {
        _temp.Store.AddPrincipal(PrincipalKind.User, "bob", null, Now);
        _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        _temp.Store.AddPrincipal(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*,lab-pc"), Now);

        var users = _temp.Store.ListPrincipals(PrincipalKind.User);
        var agents = _temp.Store.ListPrincipals(PrincipalKind.Agent);

        Assert.Equal(["alice", "bob"], users.Select(u => u.Name));
        Assert.All(users, u => Assert.False(u.Disabled));
        Assert.Equal(new PrincipalRow("lab-a", PrincipalKind.Agent, "node*,lab-pc", false, Now), Assert.Single(agents));
    }

    [Fact]
    public void RemembersTheHostsAnAgentAnnounced()
    {
        var jupyter = new ServiceAnnouncement { Name = "jupyter", Port = 8888, Http = true };
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        _temp.Store.ReplaceHosts("lab-a", [Host("node1", ssh, jupyter), Host("node2", ssh)], Now);
        _temp.Store.ReplaceHosts("lab-b", [Host("node1", ssh)], Now);

        var all = _temp.Store.ListHosts();

        Assert.Equal([("node1", "lab-a"), ("node1", "lab-b"), ("node2", "lab-a")], all.Select(h => (h.Name, h.Agent)));
        var node1 = all[0];
        Assert.Equal([ssh, jupyter], node1.Services);
        Assert.Equal(Now, node1.LastSeen);
        Assert.Equal(["lab-a", "lab-b"], _temp.Store.ListHosts("node1").Select(h => h.Agent).Order(StringComparer.Ordinal));
        Assert.Empty(_temp.Store.ListHosts("node9"));
    }

    [Fact]
    public void ReplacingHostsForgetsTheOnesNoLongerAnnounced()
    {
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        _temp.Store.ReplaceHosts("lab-a", [Host("node1", ssh), Host("node2", ssh)], Now);
        _temp.Store.ReplaceHosts("lab-b", [Host("gpu1", ssh)], Now);

        _temp.Store.ReplaceHosts("lab-a", [Host("node2", ssh)], Now.AddMinutes(1));

        Assert.Equal([("gpu1", "lab-b"), ("node2", "lab-a")], _temp.Store.ListHosts().Select(h => (h.Name, h.Agent)));

        _temp.Store.ReplaceHosts("lab-a", [], Now.AddMinutes(2));
        Assert.Equal(["gpu1"], _temp.Store.ListHosts().Select(h => h.Name));
    }

    [Fact]
    public void MarkSeenMovesOnlyThatAgentsHosts()
    {
        var ssh = new ServiceAnnouncement { Name = "ssh", Port = 22 };
        _temp.Store.ReplaceHosts("lab-a", [Host("node1", ssh)], Now);
        _temp.Store.ReplaceHosts("lab-b", [Host("gpu1", ssh)], Now);
        var later = Now.AddHours(3).AddTicks(1234567);

        _temp.Store.MarkSeen("lab-a", later);

        Assert.Equal(later, Assert.Single(_temp.Store.ListHosts("node1")).LastSeen);
        Assert.Equal(Now, Assert.Single(_temp.Store.ListHosts("gpu1")).LastSeen);
    }

    [Fact]
    public void SurvivesReopeningTheFile()
    {
        var token = _temp.Store.AddPrincipal(PrincipalKind.User, "alice", null, Now);
        _temp.Store.ReplaceHosts("lab-a", [Host("node1", new ServiceAnnouncement { Name = "ssh", Port = 22 })], Now);
        SqliteConnection.ClearAllPools();

        var reopened = new GatewayStore(_temp.Store.Path);
        reopened.Initialize();

        Assert.Equal("alice", reopened.Authenticate(token.ToString(), PrincipalKind.User, Now)?.Name);
        Assert.Equal(["node1"], reopened.ListHosts().Select(h => h.Name));
    }

    [Fact]
    public void TheDatabaseNeverHoldsATokensSecret()
    {
        var user = _temp.Store.AddPrincipal(PrincipalKind.User, "alice-the-admin", null, Now);
        var agent = _temp.Store.AddPrincipal(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("*"), Now);

        // Every file SQLite keeps (the database, its write-ahead log, the shared memory index), both while open and after closing.
        var open = ReadAllFiles();
        SqliteConnection.ClearAllPools();
        var closed = ReadAllFiles();

        foreach (var bytes in new[] { open, closed })
        {
            // A control: the search does find what the store does keep.
            Assert.True(Contains(bytes, Encoding.ASCII.GetBytes("alice-the-admin")), "the search found not even the user's name");
            Assert.True(Contains(bytes, Encoding.ASCII.GetBytes(user.Id)), "the search found not even the token's id");
            foreach (var token in new[] { user, agent })
            {
                Assert.False(Contains(bytes, Encoding.ASCII.GetBytes(token.Secret)), $"the store holds the {token.Kind} token's secret");
                Assert.False(Contains(bytes, Encoding.ASCII.GetBytes(token.Secret[..16])), $"the store holds part of the {token.Kind} token's secret");
            }
        }
    }

    private byte[] ReadAllFiles() =>
    [
        .. Directory.GetFiles(_temp.Directory.Path).SelectMany(path =>
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            file.CopyTo(copy);
            return copy.ToArray();
        }),
    ];

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    private static HostAnnouncement Host(string name, params ServiceAnnouncement[] services) => new() { Name = name, Services = services };
}
