using System.Buffers;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Store;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// Kestrel connection middleware that sits after TLS: a connection that opens with the tunnel
/// preface is handled here; anything else goes on to HTTP untouched. The hello is read with a
/// size bound (the frame limit) and a time bound (the handshake timeout), so garbage and
/// half-finished handshakes cost little and disturb nobody else.
/// </summary>
internal sealed class TunnelHandler(
    GatewayOptions options,
    Authenticator authenticator,
    ControlChannel control,
    StreamBroker broker,
    UserTrunks userTrunks,
    StoreHealth store,
    ILogger<TunnelHandler> logger)
{
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        handshake.CancelAfter(options.HandshakeTimeout);
        var remote = connection.RemoteEndPoint?.ToString();
        Hello hello;
        try
        {
            if (!await TakePrefaceAsync(connection.Transport.Input, TunnelPreface, handshake.Token))
            {
                await next(connection);
                return;
            }
            hello = await Frame.ReadAsync(connection.Transport.Input, ProtocolJson.Default.Hello, handshake.Token);
        }
        catch (Exception e) when (e is ProtocolException or EndOfStreamException or OperationCanceledException or IOException or InvalidOperationException)
        {
            GatewayLog.HandshakeRefused(logger, "tunnel", remote, e is OperationCanceledException ? "no complete hello in time" : e.Message);
            return;
        }

        // From here on the connection is used through its SslStream. The peer waits for our reply
        // before sending more, so the pipe holds nothing beyond the hello; if it does, the peer broke the protocol.
        var tls = connection.Features.Get<ISslStreamFeature>()?.SslStream;
        if (tls is null || connection.Transport.Input.TryRead(out var early) && !AdvanceEmpty(connection, early))
        {
            GatewayLog.HandshakeRefused(logger, hello.Type, remote, "sent data before the gateway answered");
            return;
        }
        // Every tunnel connection may be half-closed while it is read, so it is used through its gate.
        var gate = connection.Features.Get<TlsReadGate>() ?? throw new InvalidOperationException("the listener has no TlsReadGateMiddleware in front of TLS");
        var tunnel = TunnelConnection.Of(connection, new TlsStream(tls, gate));
        try
        {
            await RunAsync(tunnel, hello, remote, handshake);
        }
        catch (Exception e) when (StoreHealth.IsOutage(e))
        {
            // A question past authentication that the gateway cannot answer from memory while its
            // store is lost (an agent's hosts, rules not read at the current generation): the
            // connection closes, and the store's health logs it once a minute, not once per connection.
            store.Lost(e);
        }
    }

    private async Task RunAsync(TunnelConnection tunnel, Hello hello, string? remote, CancellationTokenSource handshake)
    {
        switch (hello.Type)
        {
            case HelloType.Agent:
                await control.RunAsync(tunnel, hello, Authenticate(hello, PrincipalKind.Agent, remote), handshake);
                break;
            case HelloType.AgentTrunk:
                await control.RunTrunkAsync(tunnel, hello, Authenticate(hello, PrincipalKind.Agent, remote));
                break;
            case HelloType.Connect:
                await broker.RunAsync(tunnel, hello, Authenticate(hello, PrincipalKind.User, remote));
                break;
            case HelloType.UserTrunk:
                await userTrunks.RunAsync(tunnel, hello, Authenticate(hello, PrincipalKind.User, remote));
                break;
            default:
                GatewayLog.HandshakeRefused(logger, "tunnel", remote, "unknown hello type");
                await tunnel.RefuseAsync("unknown connection type");
                break;
        }
    }

    /// <summary>Returns a non-blocking read's buffer to the pipe; true if it was empty.</summary>
    private static bool AdvanceEmpty(ConnectionContext connection, System.IO.Pipelines.ReadResult result)
    {
        connection.Transport.Input.AdvanceTo(result.Buffer.Start);
        return result.Buffer.IsEmpty;
    }

    private Principal? Authenticate(Hello hello, PrincipalKind kind, string? remote)
    {
        var principal = authenticator.Authenticate(hello.Token, kind, remote);
        // A rate-limited address is logged once, when the limit engages, not for every attempt it floods in;
        // a lost store once a minute, by its health.
        if (principal is null && !authenticator.IsLimited(remote) && !store.IsLost)
        {
            GatewayLog.HandshakeRefused(logger, hello.Type, remote, "invalid token");
        }
        return principal;
    }

    private static readonly byte[] TunnelPreface = Frame.Preface.ToArray();

    /// <summary>
    /// Consumes <paramref name="preface"/> if the connection opens with it; otherwise consumes
    /// nothing (it returns at the first byte that differs), so the next handler sees the connection as it arrived.
    /// </summary>
    internal static async Task<bool> TakePrefaceAsync(System.IO.Pipelines.PipeReader input, byte[] preface, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, preface.Length);
            var head = buffer.Slice(0, length).ToArray();
            if (!preface.AsSpan(0, length).SequenceEqual(head))
            {
                input.AdvanceTo(buffer.Start);
                return false;
            }
            if (length == preface.Length)
            {
                input.AdvanceTo(buffer.GetPosition(length));
                return true;
            }
            if (result.IsCompleted && buffer.IsEmpty)
            {
                // Closed before its first byte (a port probe): not ours to judge; the next handler sees the end.
                input.AdvanceTo(buffer.Start);
                return false;
            }
            if (result.IsCompleted)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                throw new EndOfStreamException("the connection closed inside the preface");
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
