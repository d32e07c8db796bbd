using System.Buffers.Text;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;

namespace Jumpgate.Core.Protocol;

/// <summary>
/// One end of a direct stream (docs/protocol.md, "Direct streams"): a plain TCP connection to the
/// gateway's port that opens with <see cref="Preface"/>, the stream's id and this end's secret.
/// The gateway pairs the user's leg with the agent's and relays between them without decrypting;
/// the two ends run TLS across it, end to end. The agent is the TLS server, with a certificate
/// whose fingerprint the gateway vouches for; the user's end proves that it is the end the
/// gateway authorised by sending the stream's key as its first bytes inside that TLS.
/// </summary>
internal static class DirectLeg
{
    /// <summary>Not a TLS record's first byte (0x16), so the gateway tells a direct leg from TLS on the same port.</summary>
    public static ReadOnlySpan<byte> Preface => "JGD1"u8;

    public const int IdLength = 16;
    public const int SecretLength = 32;
    public const int KeyLength = 32;
    public const int HelloLength = 4 + IdLength + SecretLength;

    /// <summary>The agent's one byte once the key checked; the user's end waits for it before its bytes flow.</summary>
    private const byte Ready = 1;

    /// <summary>The name the user's end asks for; the pinned fingerprint, not the name, is what it checks.</summary>
    private const string AgentName = "jumpgate-agent";

    public static string NewRandom(int length) => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(length));

    /// <summary>Decodes a ticket field of exactly <paramref name="length"/> bytes, or throws <see cref="ProtocolException"/>.</summary>
    public static byte[] Decode(string? text, int length)
    {
        var bytes = new byte[length];
        return text is not null && Base64Url.IsValid(text, out var decoded) && decoded == length && Base64Url.DecodeFromChars(text, bytes) == length
            ? bytes
            : throw new ProtocolException("malformed direct stream ticket");
    }

    /// <summary>A key pair and self-signed certificate for the agent's end, made at start and never stored.</summary>
    public static X509Certificate2 CreateAgentCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + AgentName, key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
    }

    /// <summary>Connects to the gateway's port and sends this end's pairing hello.</summary>
    public static async Task<NetworkStream> DialAsync(GatewayEndpoint gateway, DirectTicket ticket, CancellationToken cancellationToken)
    {
        var hello = new byte[HelloLength];
        Preface.CopyTo(hello);
        Decode(ticket.Id, IdLength).CopyTo(hello, Preface.Length);
        Decode(ticket.Secret, SecretLength).CopyTo(hello, Preface.Length + IdLength);
        var leg = new NetworkStream(await GatewayDialer.ConnectSocketAsync(gateway, cancellationToken), ownsSocket: true);
        try
        {
            await leg.WriteAsync(hello, cancellationToken);
            return leg;
        }
        catch
        {
            await leg.DisposeAsync();
            throw;
        }
    }

    /// <summary>The user's end: dials its leg, runs TLS with the agent (whose certificate must be the one the gateway named) and proves the key.</summary>
    public static async Task<TlsStream> ConnectAsUserAsync(GatewayEndpoint gateway, DirectTicket ticket, CancellationToken cancellationToken)
    {
        byte[] key;
        NetworkStream leg;
        try
        {
            if (!Fingerprint.TryParse(ticket.Certificate, out var named))
            {
                throw new ProtocolException("no agent certificate");
            }
            key = Decode(ticket.Key, KeyLength);
            leg = await DialAsync(gateway, ticket, cancellationToken);
            return await AuthenticateAsUserAsync(gateway, leg, named, key, cancellationToken);
        }
        catch (ProtocolException e)
        {
            throw new GatewayException($"gateway {gateway} answered the direct stream with a malformed ticket ({e.Message})", inner: e);
        }
    }

    private static async Task<TlsStream> AuthenticateAsUserAsync(GatewayEndpoint gateway, NetworkStream leg, Fingerprint pinned, byte[] key, CancellationToken cancellationToken)
    {
        var tls = TlsStream.Over(leg);
        string? presented = null;
        try
        {
            var options = TlsDefaults.ClientOptions(AgentName, pinned, actual => presented = actual);
            // Resumable (docs/decisions.md, "Direct legs resume the agent's TLS session"): .NET keeps a session to
            // offer again only without a cipher policy. A resumed session still brings the certificate it was made
            // with to the pin check above, and the key check below runs on every leg.
            options.CipherSuitesPolicy = null;
            options.AllowTlsResume = true;
            await tls.Tls.AuthenticateAsClientAsync(options, cancellationToken);
            await tls.WriteAsync(key, cancellationToken);
            // The agent's "ready" comes after anything TLS sends once its handshake is done, so this read takes those
            // messages too: a close_notify sent while OpenSSL was still taking one was refused or corrupted memory.
            var ready = new byte[1];
            if (await tls.ReadAsync(ready, cancellationToken) != 1 || ready[0] != Ready)
            {
                throw new GatewayException("the agent refused the direct stream (it did not take the stream's key)");
            }
            return tls;
        }
        catch (AuthenticationException e)
        {
            await tls.DisposeAsync();
            throw presented is not null
                ? new GatewayException($"the direct stream's far end presented certificate {presented}, not the agent's {pinned} that the gateway vouched for; refusing it", inner: e)
                : new GatewayException($"TLS with the agent across gateway {gateway} failed: {e.Message}", inner: e);
        }
        catch (IOException e)
        {
            await tls.DisposeAsync();
            throw new GatewayException($"gateway {gateway} closed the direct stream before it was set up", inner: e);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    /// <summary>The agent's end, over a leg from <see cref="DialAsync"/>: serves TLS and checks that the user's end knows the key.</summary>
    public static async Task<TlsStream> AcceptAsAgentAsync(Stream leg, DirectTicket ticket, SslStreamCertificateContext certificate, CancellationToken cancellationToken)
    {
        var expected = Decode(ticket.Key, KeyLength);
        var tls = TlsStream.Over(leg);
        try
        {
            await tls.Tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificate,
                EnabledSslProtocols = TlsDefaults.Protocols,
                // Session tickets, so that the user's next leg to this agent resumes (no certificate, no signature,
                // no chain to build: ~1 ms less per stream). .NET shares the server's TLS context, and with it the
                // key that seals the tickets, only without a cipher policy, so OpenSSL's default order applies here
                // (AES-256-GCM first). The user's end takes the tickets before the Ready byte.
                AllowTlsResume = true,
            }, cancellationToken);
            var presented = new byte[KeyLength];
            await tls.ReadExactlyAsync(presented, cancellationToken);
            if (!CryptographicOperations.FixedTimeEquals(presented, expected))
            {
                throw new ProtocolException("the user's end of a direct stream did not present the stream's key");
            }
            await tls.WriteAsync(new[] { Ready }, cancellationToken);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }
}
