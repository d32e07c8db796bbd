using System.Buffers;
using System.IO.Pipelines;
using Jumpgate.Core.Protocol;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// Kestrel connection middleware in front of TLS: a connection that opens with the direct-leg
/// preface is one end of an authorised direct stream, and is held here while the broker relays it;
/// anything else (a TLS ClientHello) goes on untouched. The hello is bounded in size (fixed) and
/// time (the handshake timeout).
/// </summary>
internal sealed class DirectLegHandler(GatewayOptions options, DirectRendezvous rendezvous, ILogger<DirectLegHandler> logger)
{
    private static readonly byte[] Preface = DirectLeg.Preface.ToArray();

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        byte[]? hello = null;
        var isLeg = false;
        // Bounded by time only: a peer's FIN or reset ends the pipe's reads by itself, after the bytes that came before it,
        // so what it sent is judged whatever the order in which Kestrel notices the two.
        using (var handshake = new CancellationTokenSource(options.HandshakeTimeout))
        {
            try
            {
                isLeg = await TunnelHandler.TakePrefaceAsync(connection.Transport.Input, Preface, handshake.Token);
                if (isLeg)
                {
                    hello = await ReadHelloAsync(connection.Transport.Input, handshake.Token);
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
        if (hello is null)
        {
            await next(connection);
            return;
        }
        var finished = rendezvous.Arrive(hello.AsSpan(0, DirectLeg.IdLength), hello.AsSpan(DirectLeg.IdLength), connection);
        if (finished is null)
        {
            GatewayLog.HandshakeRefused(logger, "direct leg", connection.RemoteEndPoint?.ToString(), "no direct stream waits for this leg");
            return;
        }
        await finished;
    }

    /// <summary>The id and secret after the preface; what follows (the user's TLS ClientHello, if it did not wait) stays in the pipe for the relay.</summary>
    private static async Task<byte[]> ReadHelloAsync(PipeReader input, CancellationToken cancellationToken)
    {
        var hello = new byte[DirectLeg.HelloLength - Preface.Length];
        var result = await input.ReadAtLeastAsync(hello.Length, cancellationToken);
        if (result.Buffer.Length < hello.Length)
        {
            input.AdvanceTo(result.Buffer.End);
            throw new EndOfStreamException("the connection closed inside the hello");
        }
        result.Buffer.Slice(0, hello.Length).CopyTo(hello);
        input.AdvanceTo(result.Buffer.GetPosition(hello.Length));
        return hello;
    }
}
