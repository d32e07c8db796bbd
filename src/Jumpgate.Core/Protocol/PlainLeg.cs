using System.Net.Sockets;
using System.Security.Cryptography;
using Jumpgate.Core.Streams;

namespace Jumpgate.Core.Protocol;

/// <summary>
/// One end of a direct stream on plain legs (docs/protocol.md, "Plain legs"): a TCP connection
/// to the gateway's port that names its stream and end, and proves the end's secret by an HMAC
/// over a nonce the gateway drew for this leg alone, so what an observer saw on one leg pairs no
/// other. No TLS runs across plain legs: they carry only SSH, which the gateway checks.
/// </summary>
internal static class PlainLeg
{
    /// <summary>Not a TLS record's first byte (0x16), and not <see cref="DirectLeg.Preface"/>.</summary>
    public static ReadOnlySpan<byte> Preface => "JGP1"u8;

    public const byte UserEnd = (byte)'u';
    public const byte AgentEnd = (byte)'a';
    public const int NonceLength = 32;
    public const int ProofLength = 32;

    /// <summary>The preface, the stream's id and the end's byte.</summary>
    public const int HelloLength = 4 + DirectLeg.IdLength + 1;

    /// <summary>HMAC-SHA256(secret, nonce ‖ end ‖ id): binds the proof to this leg's nonce, this end and this stream.</summary>
    public static byte[] Proof(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> nonce, byte end, ReadOnlySpan<byte> id)
    {
        Span<byte> message = stackalloc byte[NonceLength + 1 + DirectLeg.IdLength];
        nonce.CopyTo(message);
        message[NonceLength] = end;
        id.CopyTo(message[(NonceLength + 1)..]);
        return HMACSHA256.HashData(secret, message);
    }

    /// <summary>Connects to the gateway's port, names the stream and <paramref name="end"/>, and answers the gateway's nonce; the leg is then the stream's.</summary>
    public static async Task<SocketStream> DialAsync(GatewayEndpoint gateway, DirectTicket ticket, byte end, CancellationToken cancellationToken)
    {
        var id = DirectLeg.Decode(ticket.Id, DirectLeg.IdLength);
        var secret = DirectLeg.Decode(ticket.Secret, DirectLeg.SecretLength);
        var hello = new byte[HelloLength];
        Preface.CopyTo(hello);
        id.CopyTo(hello, Preface.Length);
        hello[^1] = end;
        var leg = new SocketStream(await GatewayDialer.ConnectSocketAsync(gateway, cancellationToken));
        try
        {
            await leg.WriteAsync(hello, cancellationToken);
            var nonce = new byte[NonceLength];
            await leg.ReadExactlyAsync(nonce, cancellationToken);
            await leg.WriteAsync(Proof(secret, nonce, end, id), cancellationToken);
            return leg;
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await leg.DisposeAsync();
            throw new GatewayException($"gateway {gateway} closed the plain leg before it was paired", inner: e);
        }
        catch
        {
            await leg.DisposeAsync();
            throw;
        }
    }
}
