using System.Text;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>Tokens on a real SQLite file, authenticated as the gateway does, through its access cache; and what the file holds of them.</summary>
public sealed class TokenStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private readonly TempStore _temp = new("jg-tokens");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void AUsersTokenAuthenticatesAsThatUser()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);

        var principal = _temp.Access.Authenticate(token.ToString(), PrincipalKind.User, Now);

        Assert.NotNull(principal);
        Assert.Equal(new Principal(PrincipalKind.User, "alice", null, token.Id), principal);
        Assert.Equal(PrincipalKind.User, token.Kind);
    }

    [Fact]
    public void AnAgentsTokenAuthenticatesWithItsHostPatterns()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("node*,lab-pc"), Now);

        var principal = _temp.Access.Authenticate(token.ToString(), PrincipalKind.Agent, Now);

        Assert.NotNull(principal);
        Assert.Equal("lab-a", principal.Name);
        Assert.Equal(PrincipalKind.Agent, principal.Kind);
        Assert.Equal(HostPatterns.Parse("node*,lab-pc"), principal.HostPatterns);
        Assert.True(principal.HostPatterns!.Allows("node7"));
    }

    [Fact]
    public void ATokenOfOneKindNeverPassesForTheOther()
    {
        var agent = _temp.Store.Principals.Add(PrincipalKind.Agent, "shared-name", HostPatterns.Parse("*"), Now);
        var user = _temp.Store.Principals.Add(PrincipalKind.User, "shared-name", null, Now);

        Assert.Null(_temp.Access.Authenticate(agent.ToString(), PrincipalKind.User, Now));
        Assert.Null(_temp.Access.Authenticate(user.ToString(), PrincipalKind.Agent, Now));

        // Relabelled: the agent's id and secret presented with the user prefix.
        var relabelled = agent with { Kind = PrincipalKind.User };
        Assert.Null(_temp.Access.Authenticate(relabelled.ToString(), PrincipalKind.User, Now));
        Assert.Null(_temp.Access.Authenticate(relabelled.ToString(), PrincipalKind.Agent, Now));
    }

    [Fact]
    public void ARightIdWithAWrongSecretIsRefused()
    {
        var token = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);
        var guessed = token with { Secret = TokenSecret.Create(PrincipalKind.User).Secret };

        Assert.Null(_temp.Access.Authenticate(guessed.ToString(), PrincipalKind.User, Now));
    }

    [Fact]
    public void AnUnknownOrMalformedTokenIsRefused()
    {
        _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, Now);

        Assert.Null(_temp.Access.Authenticate(TokenSecret.Create(PrincipalKind.User).ToString(), PrincipalKind.User, Now));
        Assert.Null(_temp.Access.Authenticate(null, PrincipalKind.User, Now));
        Assert.Null(_temp.Access.Authenticate("", PrincipalKind.User, Now));
        Assert.Null(_temp.Access.Authenticate("jgu_' OR 1=1 --", PrincipalKind.User, Now));
    }

    [Fact]
    public void TheDatabaseNeverHoldsATokensSecret()
    {
        var user = _temp.Store.Principals.Add(PrincipalKind.User, "alice-the-admin", null, Now);
        var agent = _temp.Store.Principals.Add(PrincipalKind.Agent, "lab-a", HostPatterns.Parse("*"), Now);

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
}
