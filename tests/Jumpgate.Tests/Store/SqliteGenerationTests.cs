using Jumpgate.Core.Security;
using Jumpgate.Gateway.Store.Sqlite;
using Jumpgate.Tests.Auth;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>
/// The SQLite generation reads its row only when a Jumpgate process counted a write since the last
/// read, or when that read is older than the recheck interval: what each kind of writer costs a
/// reader in time to see the change.
/// </summary>
public sealed class SqliteGenerationTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(2);

    [Fact]
    public void AWriteByAnotherStoreOnTheFileIsSeenAtTheNextRead()
    {
        using var temp = new TempStore("jg-sqlite-generation");
        using var reader = new SqliteGeneration(new SqliteFileSource(temp.Path), Recheck, new ManualTime());
        var before = reader.Read();

        // Another opening of the file, as an admin command in its own process opens it; the clock never moves.
        using (var admin = SqliteStore.Open(temp.Path))
        {
            admin.Principals.Add(PrincipalKind.User, "alice", null, Now);
        }

        Assert.NotEqual(before, reader.Read());
    }

    [Fact]
    public void AWriteNoJumpgateProcessCountedIsSeenWithinTheRecheckInterval()
    {
        using var temp = new TempStore("jg-sqlite-uncounted");
        var time = new ManualTime();
        using var reader = new SqliteGeneration(new SqliteFileSource(temp.Path), Recheck, time);
        var before = reader.Read();

        // A hand-run sqlite3: the row triggers move the generation, and nothing moves the counter.
        using (var connection = new SqliteConnection($"Data Source={temp.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO user_groups (\"user\", grp) VALUES ('alice', 'gpu')";
            command.ExecuteNonQuery();
        }
        time.Advance(Recheck / 2);
        var halfway = reader.Read();
        time.Advance(Recheck / 2);

        Assert.Equal(before, halfway);
        Assert.NotEqual(before, reader.Read());
    }

    [Fact]
    public void TheCounterLivesInAPrivateFileBesideTheStore()
    {
        using var temp = new TempStore("jg-sqlite-counter");

        Assert.Equal(PrivateFile.OwnerOnly, File.GetUnixFileMode(temp.Path + "-changes"));
    }
}
