using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Tunnel;
using Microsoft.AspNetCore.Connections;
using Xunit;

namespace Jumpgate.Tests.Protocol;

/// <summary>Plain legs: each end proves its secret to a nonce of its own, and only SSH's first line lets bytes through.</summary>
public sealed class PlainLegTests
{
    [Fact]
    public async Task AProofPairsOnlyTheLegItWasMadeForAndEveryRefusalIsHeard()
    {
        var refusals = new List<(string Reason, bool Audited)>();
        var rendezvous = new DirectRendezvous();
        var meeting = rendezvous.Open(plain: true, refused: (_, reason, audited) => refusals.Add((reason, audited)));
        var ticket = meeting.UserTicket("SHA256:agent");
        var id = DirectLeg.Decode(ticket.Id, DirectLeg.IdLength);
        var secret = DirectLeg.Decode(ticket.Secret, DirectLeg.SecretLength);
        var seen = RandomNumberGenerator.GetBytes(PlainLeg.NonceLength);
        var observed = PlainLeg.Proof(secret, seen, PlainLeg.UserEnd, id);
        Assert.True(ticket.Plain);
        Assert.Same(meeting, rendezvous.Find(id));

        // An observer replays the proof it saw to a nonce of its own leg: refused.
        var fresh = RandomNumberGenerator.GetBytes(PlainLeg.NonceLength);
        Assert.Null(meeting.ArrivePlain(PlainLeg.UserEnd, fresh, observed, new DefaultConnectionContext()));
        // The user's proof offered as the agent's end: refused.
        Assert.Null(meeting.ArrivePlain(PlainLeg.AgentEnd, seen, PlainLeg.Proof(secret, seen, PlainLeg.AgentEnd, id), new DefaultConnectionContext()));
        // The secret itself, as a TLS leg would send it: refused (it must never cross a plain leg).
        Assert.Null(meeting.Arrive(secret, new DefaultConnectionContext()));

        var leg = new DefaultConnectionContext();
        Assert.NotNull(meeting.ArrivePlain(PlainLeg.UserEnd, fresh, PlainLeg.Proof(secret, fresh, PlainLeg.UserEnd, id), leg));
        Assert.Same(leg, await meeting.User.Task);
        // The right proof again, for an end that is already there: refused.
        Assert.Null(meeting.ArrivePlain(PlainLeg.UserEnd, fresh, PlainLeg.Proof(secret, fresh, PlainLeg.UserEnd, id), new DefaultConnectionContext()));

        Assert.Equal(4, refusals.Count);
        Assert.Contains("wrong proof for the user's leg (replayed or forged)", refusals[0].Reason, StringComparison.Ordinal);
        Assert.All(refusals, r => Assert.True(r.Audited));
        rendezvous.Close(meeting);
        Assert.Null(rendezvous.Find(id));
    }

    [Fact]
    public void RefusalsPastTheCapAreHeardButNotAudited()
    {
        var audited = new List<bool>();
        var meeting = new DirectRendezvous().Open(plain: true, refused: (_, _, a) => audited.Add(a));
        for (var i = 0; i < 12; i++)
        {
            meeting.ArrivePlain(PlainLeg.UserEnd, new byte[PlainLeg.NonceLength], new byte[PlainLeg.ProofLength], new DefaultConnectionContext());
        }

        Assert.Equal(12, audited.Count);
        Assert.Equal(8, audited.Count(a => a));
    }

    [Fact]
    public void ATlsLegStreamTakesNoPlainLeg()
    {
        var meeting = new DirectRendezvous().Open();
        var ticket = meeting.UserTicket("SHA256:agent");
        var nonce = new byte[PlainLeg.NonceLength];
        var proof = PlainLeg.Proof(DirectLeg.Decode(ticket.Secret, DirectLeg.SecretLength), nonce, PlainLeg.UserEnd, Base64Url.DecodeFromChars(ticket.Id));

        Assert.False(ticket.Plain);
        Assert.Null(meeting.ArrivePlain(PlainLeg.UserEnd, nonce, proof, new DefaultConnectionContext()));
    }

    [Theory]
    [InlineData("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n", "Valid")]
    [InlineData("SSH-2.0-x\r\nrest of the packet", "Valid")]
    [InlineData("SSH-2.0-OpenSSH_9.6", "Incomplete")]
    [InlineData("SSH-2.0-OpenSSH_9.6\r", "Incomplete")]
    [InlineData("SSH-2", "Incomplete")]
    [InlineData("", "Incomplete")]
    [InlineData("220 mail.example ESMTP\r\n", "Invalid")]
    [InlineData("HTTP/1.1 200 OK\r\n", "Invalid")]
    [InlineData("SSH-1.5-old\r\n", "Invalid")]
    [InlineData("SSH-2.0-\r\n", "Invalid")]
    [InlineData("SSH-2.0-tab\there\r\n", "Invalid")]
    [InlineData("SSH-2.0-lf only\n", "Invalid")]
    [InlineData("SSH-2.0-cr\rx\r\n", "Invalid")]
    public void TheFirstLineMustBeAnSshIdentificationString(string text, string expectedName)
    {
        var expected = Enum.Parse<SshIdentification.Verdict>(expectedName);
        var verdict = SshIdentification.Check(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), out var length);

        Assert.Equal(expected, verdict);
        if (verdict == SshIdentification.Verdict.Valid)
        {
            Assert.Equal(text.IndexOf('\n', StringComparison.Ordinal) + 1, length);
        }
    }

    [Fact]
    public void AnIdentificationStringLongerThan255BytesIsRefusedWithoutWaitingForMore()
    {
        var at255 = "SSH-2.0-" + new string('a', 245) + "\r\n";
        var over = "SSH-2.0-" + new string('a', 300);

        Assert.Equal(255, at255.Length);
        Assert.Equal(SshIdentification.Verdict.Valid, SshIdentification.Check(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(at255)), out _));
        Assert.Equal(SshIdentification.Verdict.Invalid, SshIdentification.Check(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(over)), out _));
    }
}
