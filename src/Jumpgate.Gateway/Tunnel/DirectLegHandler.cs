using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// Kestrel connection middleware in front of TLS: a connection that opens with the direct-leg
/// preface is one end of an authorised direct stream, and is held here while the broker relays it;
/// anything else (a TLS ClientHello) goes on untouched. A plain leg's hello is answered with a
/// nonce of its own, which the leg proves its secret to. The hello is bounded in size (fixed) and
/// time (the handshake timeout).
/// </summary>
internal sealed class DirectLegHandler(GatewayOptions options, DirectRendezvous rendezvous, ILogger<DirectLegHandler> logger)
{
    private static readonly byte[] Preface = DirectLeg.Preface.ToArray();
    private static readonly byte[] PlainPreface = PlainLeg.Preface.ToArray();

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        byte[]? hello = null;
        PlainHello? plain = null;
        var isLeg = false;
        // Bounded by time only: a peer's FIN or reset ends the pipe's reads by itself, after the bytes that came before it,
        // so what it sent is judged whatever the order in which Kestrel notices the two.
        using (var handshake = new CancellationTokenSource(options.HandshakeTimeout))
        {
            try
            {
                var input = connection.Transport.Input;
                if (await TunnelHandler.TakePrefaceAsync(input, Preface, handshake.Token))
                {
                    isLeg = true;
                    hello = await ReadExactlyAsync(input, DirectLeg.HelloLength - Preface.Length, handshake.Token);
                }
                else if (await TunnelHandler.TakePrefaceAsync(input, PlainPreface, handshake.Token))
                {
                    isLeg = true;
                    plain = await ChallengeAsync(connection, handshake.Token);
                }
            }
            catch (OperationCanceledException) when (!isLeg)
            {
                // Silent until the handshake timeout: dropped as TLS would drop it, without a warning per connection.
                return;
            }
            catch (Exception e) when (e is EndOfStreamException or OperationCanceledException or IOException or InvalidOperationException)
            {
                var reason = e is OperationCanceledException ? "no complete hello in time" : e.Message;
                GatewayLog.HandshakeRefused(logger, "direct leg", connection.RemoteEndPoint?.ToString(), reason);
                return;
            }
        }
        if (!isLeg)
        {
            await next(connection);
            return;
        }
        var meeting = rendezvous.Find((hello ?? plain!.Id).AsSpan(0, DirectLeg.IdLength));
        if (meeting is null)
        {
            GatewayLog.HandshakeRefused(logger, "direct leg", connection.RemoteEndPoint?.ToString(), "no direct stream waits for this leg");
            return;
        }
        // A refusal for a stream that exists is the stream's to log and audit.
        var finished = plain is { } p
            ? meeting.ArrivePlain(p.End, p.Nonce, p.Proof, connection)
            : meeting.Arrive(hello.AsSpan(DirectLeg.IdLength), connection);
        if (finished is not null)
        {
            await finished;
        }
    }

    /// <summary>A plain leg's id and end, the nonce drawn for it and its answer.</summary>
    private sealed record PlainHello(byte[] Id, byte End, byte[] Nonce, byte[] Proof);

    /// <summary>
    /// Reads a plain leg's id and end, sends it a nonce of its own and reads its proof. The nonce
    /// goes to every leg, named stream or not, so the answer tells a stranger nothing about which
    /// ids are live.
    /// </summary>
    private static async Task<PlainHello> ChallengeAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        var named = await ReadExactlyAsync(connection.Transport.Input, PlainLeg.HelloLength - PlainPreface.Length, cancellationToken);
        var nonce = RandomNumberGenerator.GetBytes(PlainLeg.NonceLength);
        await connection.Transport.Output.WriteAsync(nonce, cancellationToken);
        var proof = await ReadExactlyAsync(connection.Transport.Input, PlainLeg.ProofLength, cancellationToken);
        return new PlainHello(named[..DirectLeg.IdLength], named[DirectLeg.IdLength], nonce, proof);
    }

    /// <summary>Takes exactly <paramref name="length"/> bytes; what follows (the user's TLS ClientHello or SSH's first line, if it did not wait) stays in the pipe for the relay.</summary>
    private static async Task<byte[]> ReadExactlyAsync(PipeReader input, int length, CancellationToken cancellationToken)
    {
        var bytes = new byte[length];
        var result = await input.ReadAtLeastAsync(bytes.Length, cancellationToken);
        if (result.Buffer.Length < bytes.Length)
        {
            input.AdvanceTo(result.Buffer.End);
            throw new EndOfStreamException("the connection closed inside the hello");
        }
        result.Buffer.Slice(0, bytes.Length).CopyTo(bytes);
        input.AdvanceTo(result.Buffer.GetPosition(bytes.Length));
        return bytes;
    }
}
