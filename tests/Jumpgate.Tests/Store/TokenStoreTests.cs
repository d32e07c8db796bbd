using System.Text;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>Tokens on each backend (a real SQLite file, a real PostgreSQL database), authenticated as the gateway does, through its access cache; and what the file holds of them.</summary>
public sealed class TokenStoreTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void AUsersTokenAuthenticatesAsThatUser(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-tokens");
        var token = temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);

        var principal = temp.Access.Authenticate(token.ToString(), PrincipalKind.User, Now);

        Assert.NotNull(principal);
        Assert.Equal(new Principal(PrincipalKind.User, "alice", null, token.Id), principal);
        Assert.Equal(PrincipalKind.User, token.Kind);
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void AnAgentsTokenAuthenticatesWithItsHostPatterns(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-tokens");
        var token = temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*,lab-pc"), Now);

        var principal = temp.Access.Authenticate(token.ToString(), PrincipalKind.Agent, Now);

        Assert.NotNull(principal);
        Assert.Equal("lab-a", principal.Name);
        Assert.Equal(PrincipalKind.Agent, principal.Kind);
        Assert.Equal(HostPatterns.Parse("node*,lab-pc"), principal.HostPatterns);
        Assert.True(principal.HostPatterns!.Allows("node7"));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ATokenOfOneKindNeverPassesForTheOther(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-tokens");
        var agent = temp.Store.Principals.Add(PrincipalKind.Agent, "shared-name", HostPatterns.Parse("*"), Now);
        var user = temp.Store.Principals.Add(PrincipalKind.User, "shared-name", null, Now);

        Assert.Null(temp.Access.Authenticate(agent.ToString(), PrincipalKind.User, Now));
        Assert.Null(temp.Access.Authenticate(user.ToString(), PrincipalKind.Agent, Now));

        // Relabelled: the agent's id and secret presented with the user prefix.
        var relabelled = agent with { Kind = PrincipalKind.User };
        Assert.Null(temp.Access.Authenticate(relabelled.ToString(), PrincipalKind.User, Now));
        Assert.Null(temp.Access.Authenticate(relabelled.ToString(), PrincipalKind.Agent, Now));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ARightIdWithAWrongSecretIsRefused(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-tokens");
        var token = temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        var guessed = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };

        Assert.Null(temp.Access.Authenticate(guessed.ToString(), PrincipalKind.User, Now));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void AnUnknownOrMalformedTokenIsRefused(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-tokens");
        temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);

        Assert.Null(temp.Access.Authenticate(TokenSecret.Create(PrincipalKind.User).ToString(), PrincipalKind.User, Now));
        Assert.Null(temp.Access.Authenticate(null, PrincipalKind.User, Now));
        Assert.Null(temp.Access.Authenticate("", PrincipalKind.User, Now));
        Assert.Null(temp.Access.Authenticate("jgu_' OR 1=1 --", PrincipalKind.User, Now));
    }

    [Fact]
    public void TheDatabaseNeverHoldsATokensSecret()
    {
        using var temp = new TempStore("jg-tokens");
        var user = temp.Store.Principals.Add(PrincipalKind.User, "alice-the-admin", null, Now);
        var agent = temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("*"), Now);

        // Every file SQLite keeps (the database, its write-ahead log, the shared memory index), both while open and after closing.
        var open = ReadAllFiles(temp);
        SqliteConnection.ClearAllPools();
        var closed = ReadAllFiles(temp);

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

    private static byte[] ReadAllFiles(TempStore temp) =>
    [
        .. Directory.GetFiles(temp.Directory.Path).SelectMany(path =>
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            file.CopyTo(copy);
            return copy.ToArray();
        }),
    ];

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
