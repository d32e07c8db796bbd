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

/// <summary>The two ends' TLS across a relay, on loopback: the user's end pins the agent, the agent's end checks the key.</summary>
public sealed class DirectLegEndsTests
{
    private static DirectTicket Ticket(System.Security.Cryptography.X509Certificates.X509Certificate2 agent) => new()
    {
        Id = DirectLeg.NewRandom(DirectLeg.IdLength),
        Secret = DirectLeg.NewRandom(DirectLeg.SecretLength),
        Key = DirectLeg.NewRandom(DirectLeg.KeyLength),
        Certificate = Jumpgate.Core.Security.Fingerprint.Of(agent).ToString(),
    };

    /// <summary>A stand-in for the gateway and the agent behind it: reads the leg's hello, then serves TLS as the agent with <paramref name="certificate"/> and <paramref name="ticket"/>.</summary>
    private static (System.Net.Sockets.Socket Listener, Task<Jumpgate.Core.Streams.TlsStream> Agent) AgentBehind(
        System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, DirectTicket ticket) =>
        AgentBehind(System.Net.Security.SslStreamCertificateContext.Create(certificate, null, offline: true), ticket, _ => { });

    /// <summary>As above with an agent's context kept from leg to leg, as the agent keeps it; <paramref name="sent"/> hears how many bytes the agent sent until it was ready.</summary>
    private static (System.Net.Sockets.Socket Listener, Task<Jumpgate.Core.Streams.TlsStream> Agent) AgentBehind(
        System.Net.Security.SslStreamCertificateContext context, DirectTicket ticket, Action<long> sent)
    {
        var listener = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        async Task<Jumpgate.Core.Streams.TlsStream> ServeAsync()
        {
            var socket = await listener.AcceptAsync();
            var leg = new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            var hello = new byte[DirectLeg.HelloLength];
            await leg.ReadExactlyAsync(hello);
            Assert.Equal("JGD1"u8.ToArray(), hello[..4]);
            Assert.Equal(DirectLeg.Decode(ticket.Id, DirectLeg.IdLength), hello[4..20]);
            var counted = new SentBytes(leg);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var tls = await DirectLeg.AcceptAsAgentAsync(counted, ticket, context, timeout.Token);
            sent(counted.Sent);
            return tls;
        }
        return (listener, ServeAsync());
    }

    private static GatewayEndpoint At(System.Net.Sockets.Socket listener) =>
        GatewayEndpoint.Parse($"https://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndPoint!).Port}", null);

    [Fact]
    public async Task TheEndsShakeHandsAcrossTheLegAndCarryBytes()
    {
        using var agent = DirectLeg.CreateAgentCertificate();
        var ticket = Ticket(agent);
        var (listener, serving) = AgentBehind(agent, ticket);
        using var _ = listener;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        await using var user = await DirectLeg.ConnectAsUserAsync(At(listener), ticket, timeout.Token);
        await using var served = await serving;
        await user.WriteAsync("over the leg"u8.ToArray(), timeout.Token);
        var got = new byte[12];
        await served.ReadExactlyAsync(got, timeout.Token);

        Assert.Equal("over the leg"u8.ToArray(), got);
        Assert.Equal(System.Security.Authentication.SslProtocols.Tls13, user.Tls.SslProtocol);
    }

    /// <summary>One direct stream to an agent, then a second: the agent's bytes until "ready" on each, and whether each carried its bytes exactly.</summary>
    private static async Task<long> StreamAsync(System.Net.Security.SslStreamCertificateContext agent, DirectTicket ticket, CancellationToken cancellationToken)
    {
        long sent = 0;
        var (listener, serving) = AgentBehind(agent, ticket, bytes => sent = bytes);
        using var _ = listener;
        await using var user = await DirectLeg.ConnectAsUserAsync(At(listener), ticket, cancellationToken);
        await using var served = await serving;
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(64 << 10);
        var writing = user.WriteAsync(payload, cancellationToken).AsTask();
        var got = new byte[payload.Length];
        await served.ReadExactlyAsync(got, cancellationToken);
        await writing;
        Assert.Equal(payload, got);
        return sent;
    }

    [Fact]
    public async Task TheUsersNextLegToTheSameAgentResumesWithoutTheCertificateAndCarriesBytesExactly()
    {
        using var certificate = DirectLeg.CreateAgentCertificate();
        var agent = System.Net.Security.SslStreamCertificateContext.Create(certificate, null, offline: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var first = await StreamAsync(agent, Ticket(certificate), timeout.Token);
        var second = await StreamAsync(agent, Ticket(certificate), timeout.Token);

        // A full handshake sends the certificate; a resumed one does not (it still sends fresh session tickets).
        Assert.True(first - second >= certificate.RawData.Length, $"the agent sent {first} bytes on the first leg and {second} on the second; a resumed handshake leaves out the {certificate.RawData.Length}-byte certificate");
    }

    [Fact]
    public async Task AResumedSessionIsStillHeldToTheCertificateTheGatewayNamed()
    {
        using var certificate = DirectLeg.CreateAgentCertificate();
        using var named = DirectLeg.CreateAgentCertificate();
        var agent = System.Net.Security.SslStreamCertificateContext.Create(certificate, null, offline: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await StreamAsync(agent, Ticket(certificate), timeout.Token);

        // The gateway vouches for another agent this time, but the leg reaches the one whose session the user's end holds.
        var ticket = Ticket(named);
        var (listener, serving) = AgentBehind(agent, ticket, _ => { });
        using var _ = listener;
        var refused = await Assert.ThrowsAsync<GatewayException>(() => DirectLeg.ConnectAsUserAsync(At(listener), ticket, timeout.Token));

        Assert.Contains($"presented certificate {Jumpgate.Core.Security.Fingerprint.Of(certificate)}, not the agent's {Jumpgate.Core.Security.Fingerprint.Of(named)}", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<Exception>(() => serving);
    }

    [Fact]
    public async Task AResumedLegStillHasToShowTheStreamsKey()
    {
        using var certificate = DirectLeg.CreateAgentCertificate();
        var agent = System.Net.Security.SslStreamCertificateContext.Create(certificate, null, offline: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await StreamAsync(agent, Ticket(certificate), timeout.Token);

        var ticket = Ticket(certificate);
        var (listener, serving) = AgentBehind(agent, ticket, _ => { });
        using var _ = listener;
        var thief = await Assert.ThrowsAsync<GatewayException>(() => DirectLeg.ConnectAsUserAsync(At(listener), ticket with { Key = DirectLeg.NewRandom(DirectLeg.KeyLength) }, timeout.Token));

        var refused = await Assert.ThrowsAsync<ProtocolException>(() => serving);
        Assert.Equal("the user's end of a direct stream did not present the stream's key", refused.Message);
        Assert.Equal("the agent refused the direct stream (it did not take the stream's key)", thief.Message);
    }

    [Fact]
    public async Task TheUsersEndRefusesAnyCertificateButTheOneTheGatewayNamed()
    {
        using var agent = DirectLeg.CreateAgentCertificate();
        using var impostor = DirectLeg.CreateAgentCertificate();
        var ticket = Ticket(agent);
        var (listener, serving) = AgentBehind(impostor, ticket);
        using var _ = listener;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var refused = await Assert.ThrowsAsync<GatewayException>(() => DirectLeg.ConnectAsUserAsync(At(listener), ticket, timeout.Token));

        Assert.Contains($"presented certificate {Jumpgate.Core.Security.Fingerprint.Of(impostor)}", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<Exception>(() => serving);
    }

    [Fact]
    public async Task TheAgentsEndRefusesAUserEndWithoutTheKey()
    {
        using var agent = DirectLeg.CreateAgentCertificate();
        var ticket = Ticket(agent);
        var (listener, serving) = AgentBehind(agent, ticket);
        using var _ = listener;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // Someone who took the user's leg (its secret crosses the wire in the clear) but never saw the key.
        var thief = await Assert.ThrowsAsync<GatewayException>(() => DirectLeg.ConnectAsUserAsync(At(listener), ticket with { Key = DirectLeg.NewRandom(DirectLeg.KeyLength) }, timeout.Token));

        var refused = await Assert.ThrowsAsync<ProtocolException>(() => serving);
        Assert.Equal("the user's end of a direct stream did not present the stream's key", refused.Message);
        Assert.Equal("the agent refused the direct stream (it did not take the stream's key)", thief.Message);
    }

    [Fact]
    public async Task AMalformedTicketFromTheGatewayIsAnErrorInWordsNotACrash()
    {
        var refused = await Assert.ThrowsAsync<GatewayException>(() => DirectLeg.ConnectAsUserAsync(
            GatewayEndpoint.Parse("https://127.0.0.1:9", null), new DirectTicket { Id = "x", Secret = "y", Key = "z", Certificate = "SHA256:nope" }, CancellationToken.None));

        Assert.StartsWith("gateway https://127.0.0.1:9 answered the direct stream with a malformed ticket", refused.Message, StringComparison.Ordinal);
    }
}

/// <summary>Counts what the agent's end writes on its leg (the TLS records it sends).</summary>
internal sealed class SentBytes(Stream inner) : Stream
{
    public long Sent { get; private set; }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count)
    {
        Sent += count;
        inner.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Sent += buffer.Length;
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
