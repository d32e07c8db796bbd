using System.Buffers.Binary;
using System.Text;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Admin;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.HostKeys;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>
/// The SSH host keys the gateway vouches for, on each backend: the first keys of a host are
/// recorded, a different set is kept aside (served to nobody) and audited once, an admin's accept
/// makes it the record, and the recorded keys read again withdraw a waiting change.
/// </summary>
public sealed class HostKeyStoreTests
{
    private static readonly SshHostKey First = Key(1);
    private static readonly SshHostKey Second = Key(2);
    private static readonly SshHostKey Rsa = Key(3, "ssh-rsa");

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public async Task TheFirstKeysAreRecordedAndADifferentSetWaitsForAnAdminOnEveryGatewayOfTheStore(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-hostkeys");
        var other = temp.OpenAnother();
        var admin = new List<AuditEvent>();
        await using (var audit = new AuditLog(temp.Store.Audit, temp.Store.Health, new AuditFile(temp.Directory.File("audit.jsonl")), TimeProvider.System, NullLogger<AuditLog>.Instance))
        {
            var records = new HostKeyRecords(temp.Store.HostKeys, audit, temp.Store.Health, TimeProvider.System, NullLogger<HostKeyRecords>.Instance);
            var actions = new AdminActions(other, "boss", "10.0.0.9:5000", admin.Add, TimeProvider.System);

            records.Report("lab-a", "10.0.0.1:4000", "node1", [First, Rsa]);
            records.Report("lab-a", "10.0.0.1:4000", "node1", [First]);
            Assert.Equal([First.ToString(), Rsa.ToString()], other.HostKeys.Find("node1")!.Keys);
            Assert.Null(other.HostKeys.Find("node1")!.Pending);

            records.Report("lab-b", "10.0.0.2:4000", "node1", [Second]);
            records.Report("lab-b", "10.0.0.2:4000", "node1", [Second]);
            var changed = other.HostKeys.Find("node1")!;
            Assert.Equal([First.ToString(), Rsa.ToString()], changed.Keys);
            Assert.Equal([Second.ToString()], changed.Pending);
            Assert.Equal("lab-b", changed.PendingAgent);

            var accepted = actions.AcceptHostKeys("node1");
            Assert.Equal([Second.ToString()], accepted.Keys);
            Assert.Null(accepted.Pending);
            Assert.Equal([Second.ToString()], temp.Store.HostKeys.Find("node1")!.Keys);
            var refused = Assert.Throws<InvalidOperationException>(() => actions.AcceptHostKeys("node1"));
            Assert.Contains("no changed host keys of node1 are waiting", refused.Message, StringComparison.Ordinal);

            records.Report("lab-a", null, "node1", [First]);
            Assert.Equal([First.ToString()], temp.Store.HostKeys.Find("node1")!.Pending);
            records.Report("lab-b", null, "node1", [Second]);
            Assert.Null(temp.Store.HostKeys.Find("node1")!.Pending);
            Assert.Equal(["node1"], other.HostKeys.List().Select(r => r.Host));
        }

        var trail = temp.Store.Audit.Query(new AuditQuery(Event: AuditEvent.KindHostKey));
        Assert.Equal(["recorded", "changed", "changed", "reverted"], trail.Select(e => e.Outcome));
        Assert.Contains(Second.Fingerprint, trail[1].Reason, StringComparison.Ordinal);
        Assert.Contains("jumpgate gateway host-keys accept node1", trail[1].Reason, StringComparison.Ordinal);
        var acceptance = Assert.Single(admin);
        Assert.Equal(("host_keys_accept", "boss", "node1"), (acceptance.Outcome, acceptance.Admin, acceptance.Host));
        Assert.Contains(Second.Fingerprint, acceptance.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void OnlyOneOfTwoGatewaysRecordsAHostsFirstKeys(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-hostkeys");
        var other = temp.OpenAnother();

        Assert.True(temp.Store.HostKeys.RecordFirst("node1", [First.ToString()], "lab-a", DateTimeOffset.UtcNow));
        Assert.False(other.HostKeys.RecordFirst("node1", [Second.ToString()], "lab-b", DateTimeOffset.UtcNow));

        Assert.Equal([First.ToString()], other.HostKeys.Find("node1")!.Keys);
        Assert.Null(other.HostKeys.AcceptPending("node1", DateTimeOffset.UtcNow));
        Assert.Null(other.HostKeys.Find("node2"));
    }

    [Fact]
    public void AKeyParsesOnlyWhenItsBlobNamesItsTypeAndItsFingerprintIsSshKeygens()
    {
        // ssh-keygen -t ed25519, and what `ssh-keygen -lf` printed for it.
        Assert.True(SshHostKey.TryParse("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNeIC2BnPrnGDePtcWcoEjITAWophmSPHwjBHGsUXcK", out var key));
        Assert.Equal("SHA256:D+zrAa+eD2qEdm9haGtbNedB8ghXwRuV9cyZWxs/XJU", key.Fingerprint);

        Assert.False(SshHostKey.TryParse("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIPNeIC2BnPrnGDePtcWcoEjITAWophmSPHwjBHGsUXcK", out _));
        Assert.False(SshHostKey.TryParse("@cert-authority ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNeIC2BnPrnGDePtcWcoEjITAWophmSPHwjBHGsUXcK", out _));
        Assert.False(SshHostKey.TryParse("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNeIC2BnPrnGDePtcWcoEjITAWophmSPHwjBHGsUXcK\n* ssh-rsa AAAA", out _));
        Assert.False(SshHostKey.TryParse("ssh-ed25519 not-base64!", out _));
        Assert.Null(SshHostKey.ParseAll([First.ToString(), "junk"]));
    }

    /// <summary>A key blob as OpenSSH lays it out: the type as an SSH string, then 32 bytes made from <paramref name="seed"/>.</summary>
    private static SshHostKey Key(byte seed, string type = "ssh-ed25519")
    {
        var name = Encoding.ASCII.GetBytes(type);
        var blob = new byte[4 + name.Length + 4 + 32];
        BinaryPrimitives.WriteUInt32BigEndian(blob, (uint)name.Length);
        name.CopyTo(blob, 4);
        BinaryPrimitives.WriteUInt32BigEndian(blob.AsSpan(4 + name.Length), 32);
        blob.AsSpan(8 + name.Length).Fill(seed);
        Assert.True(SshHostKey.TryParse($"{type} {Convert.ToBase64String(blob)}", out var key));
        return key;
    }
}
