using System.Buffers.Text;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Tunnel;
using Microsoft.AspNetCore.Connections;
using Xunit;

namespace Jumpgate.Tests.Protocol;

/// <summary>The meeting point of a direct stream's two legs, and the tickets that pair them.</summary>
public sealed class DirectLegTests
{
    [Fact]
    public async Task EachEndIsPairedOnceByItsOwnSecretAndNothingElseGetsIn()
    {
        var rendezvous = new DirectRendezvous();
        var meeting = rendezvous.Open();
        var user = meeting.UserTicket("SHA256:agent");
        var agent = meeting.AgentTicket;
        var id = DirectLeg.Decode(user.Id, DirectLeg.IdLength);

        Assert.Equal(user.Id, agent.Id);
        Assert.Equal(user.Key, agent.Key);
        Assert.NotEqual(user.Secret, agent.Secret);
        Assert.Null(rendezvous.Arrive(id, new byte[DirectLeg.SecretLength], new DefaultConnectionContext()));
        Assert.Null(rendezvous.Arrive(new byte[DirectLeg.IdLength], DirectLeg.Decode(user.Secret, DirectLeg.SecretLength), new DefaultConnectionContext()));

        var userLeg = new DefaultConnectionContext();
        var finished = rendezvous.Arrive(id, DirectLeg.Decode(user.Secret, DirectLeg.SecretLength), userLeg);
        Assert.NotNull(finished);
        Assert.Same(userLeg, await meeting.User.Task);
        // The same end again (a replayed hello) is refused: one leg per end.
        Assert.Null(rendezvous.Arrive(id, DirectLeg.Decode(user.Secret, DirectLeg.SecretLength), new DefaultConnectionContext()));
        Assert.NotNull(rendezvous.Arrive(id, DirectLeg.Decode(agent.Secret, DirectLeg.SecretLength), new DefaultConnectionContext()));

        rendezvous.Close(meeting);
        await finished.WaitAsync(TimeSpan.FromSeconds(5));
        // Once the stream is over its id means nothing.
        Assert.Null(rendezvous.Arrive(id, DirectLeg.Decode(agent.Secret, DirectLeg.SecretLength), new DefaultConnectionContext()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not base64url!")]
    [InlineData("AAAA")]
    public void AMalformedTicketFieldIsAProtocolErrorThatQuotesNothing(string? text)
    {
        var error = Assert.Throws<ProtocolException>(() => DirectLeg.Decode(text, DirectLeg.SecretLength));

        Assert.Equal("malformed direct stream ticket", error.Message);
    }

    [Fact]
    public void TicketsAreFreshForEveryMeeting()
    {
        var rendezvous = new DirectRendezvous();
        var first = rendezvous.Open().UserTicket("SHA256:agent");
        var second = rendezvous.Open().UserTicket("SHA256:agent");

        Assert.NotEqual(first.Id, second.Id);
        Assert.NotEqual(first.Secret, second.Secret);
        Assert.NotEqual(first.Key, second.Key);
        Assert.Equal(DirectLeg.KeyLength, Base64Url.DecodeFromChars(first.Key).Length);
    }
}
