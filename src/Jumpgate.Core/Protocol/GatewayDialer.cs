using System.Net.Sockets;
using System.Security.Authentication;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;

namespace Jumpgate.Core.Protocol;

/// <summary>Where a gateway is and how to recognise it.</summary>
internal sealed record GatewayEndpoint(Uri Address, Fingerprint? Pinned)
{
    public static GatewayEndpoint Parse(string address, string? fingerprint)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new FormatException($"gateway address '{address}' is not an https:// URL (for example https://gw.example.org:443)");
        }
        return new GatewayEndpoint(uri, fingerprint is null ? null : Fingerprint.Parse(fingerprint));
    }

    public override string ToString() => Address.GetLeftPart(UriPartial.Authority);
}

/// <summary>The gateway refused or could not be reached; the message is meant for a person.</summary>
internal sealed class GatewayException(string message, bool refused = false, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>True when the gateway answered and said no (as opposed to being unreachable).</summary>
    public bool Refused { get; } = refused;
}

/// <summary>Opens one TLS connection to the gateway and performs the tunnel handshake.</summary>
internal static class GatewayDialer
{
    /// <summary>A TCP connection to the gateway's port, for TLS (<see cref="ConnectTlsAsync"/>) or a direct stream's leg.</summary>
    public static async Task<Socket> ConnectSocketAsync(GatewayEndpoint gateway, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        // Idle pool connections can sit for hours; keepalives stop NAT boxes on the way from forgetting them.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 10);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        try
        {
            await socket.ConnectAsync(gateway.Address.IdnHost, gateway.Address.Port, cancellationToken);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new GatewayException($"gateway {gateway} is unreachable: {e.Message}", inner: e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static async Task<TlsStream> ConnectTlsAsync(GatewayEndpoint gateway, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(gateway, cancellationToken);
        string? presented = null;
        var tls = TlsStream.Over(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await tls.Tls.AuthenticateAsClientAsync(TlsDefaults.ClientOptions(gateway.Address.IdnHost, gateway.Pinned, actual => presented = actual), cancellationToken);
            return tls;
        }
        catch (AuthenticationException e)
        {
            await tls.DisposeAsync();
            throw presented is not null
                ? new GatewayException($"gateway {gateway} presented certificate {presented}, which does not match the pinned fingerprint {gateway.Pinned}; refusing to connect. If the gateway's certificate was replaced, get the new fingerprint from its admin (`jumpgate gateway fingerprint`).", inner: e)
                : new GatewayException($"TLS with gateway {gateway} failed: {e.Message}", inner: e);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await tls.DisposeAsync();
            throw new GatewayException($"gateway {gateway} closed the connection during the TLS handshake", inner: e);
        }
    }

    /// <summary>Connects, sends the preface and <paramref name="hello"/>, and returns the stream once the gateway says yes.</summary>
    public static async Task<(TlsStream Stream, Reply Reply)> HandshakeAsync(GatewayEndpoint gateway, Hello hello, CancellationToken cancellationToken)
    {
        var tls = await ConnectTlsAsync(gateway, cancellationToken);
        try
        {
            var helloFrame = Frame.Encode(hello, ProtocolJson.Default.Hello);
            var message = new byte[Frame.Preface.Length + helloFrame.Length];
            Frame.Preface.CopyTo(message);
            helloFrame.CopyTo(message, Frame.Preface.Length);
            await tls.WriteAsync(message, cancellationToken);
            await tls.FlushAsync(cancellationToken);
            var reply = await Frame.ReadAsync(tls, ProtocolJson.Default.Reply, cancellationToken);
            if (!reply.Ok)
            {
                throw new GatewayException(reply.Error ?? "the gateway refused the connection", refused: true);
            }
            return (tls, reply);
        }
        catch (Exception e) when (e is IOException or ProtocolException)
        {
            await tls.DisposeAsync();
            throw new GatewayException($"gateway {gateway} closed the connection during the handshake", inner: e);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }
}
