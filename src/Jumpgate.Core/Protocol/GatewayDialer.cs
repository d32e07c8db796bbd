using System.Net.Sockets;
using System.Net.Security;
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

    /// <summary>
    /// Why an unpinned gateway was refused, and the fix: a self-signed gateway (what `gateway init`
    /// makes) is trusted by its fingerprint, never by the system's CA store.
    /// </summary>
    public string Untrusted(SslPolicyErrors errors)
    {
        var why = errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable) ? "no certificate"
            : errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors) ? "a certificate that no CA in this machine's store vouches for (self-signed, or from a private CA)"
            : $"a certificate issued for another name than {Address.IdnHost}";
        return $"gateway {this} presented {why}; refusing to talk to it. If its admin gave you a fingerprint, pass it: "
            + $"`jumpgate login {this} --fingerprint SHA256:…` (`jumpgate gateway fingerprint` prints it on the gateway)";
    }
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
        SslPolicyErrors? untrusted = null;
        var tls = TlsStream.Over(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await tls.Tls.AuthenticateAsClientAsync(
                TlsDefaults.ClientOptions(gateway.Address.IdnHost, gateway.Pinned, actual => presented = actual, errors => untrusted = errors), cancellationToken);
            return tls;
        }
        catch (AuthenticationException e)
        {
            await tls.DisposeAsync();
            throw presented is not null
                ? new GatewayException($"gateway {gateway} presented certificate {presented}, which does not match the pinned fingerprint {gateway.Pinned}; refusing to connect. If the gateway's certificate was replaced, get the new fingerprint from its admin (`jumpgate gateway fingerprint`).", inner: e)
                : untrusted is { } errors ? new GatewayException(gateway.Untrusted(errors), inner: e)
                : new GatewayException($"TLS with gateway {gateway} failed: {e.Message}", inner: e);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await tls.DisposeAsync();
            throw new GatewayException($"gateway {gateway} closed the connection during the TLS handshake", inner: e);
        }
    }

    /// <summary>
    /// How long one of several gateways may take to answer (TCP and TLS) before the next is tried.
    /// A gateway that is down answers a connect with a reset at once; one whose machine is gone
    /// answers nothing, and a second is many round trips on any network a gateway serves.
    /// </summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(1);

    /// <summary>
    /// TLS with the first of <paramref name="gateways"/> that answers, in order: one that is
    /// unreachable, fails TLS or takes longer than <see cref="Patience"/> is passed over (the last
    /// one gets no such limit). Throws <see cref="GatewayException"/> naming every failure when none answers.
    /// </summary>
    public static async Task<(TlsStream Stream, GatewayEndpoint Gateway)> ConnectFirstAsync(IReadOnlyList<GatewayEndpoint> gateways, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(gateways.Count);
        var failures = new List<string>();
        for (var i = 0; i < gateways.Count; i++)
        {
            var gateway = gateways[i];
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (i < gateways.Count - 1)
            {
                patience.CancelAfter(Patience);
            }
            try
            {
                return (await ConnectTlsAsync(gateway, patience.Token), gateway);
            }
            catch (GatewayException e) when (gateways.Count > 1)
            {
                failures.Add(e.Message);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failures.Add($"gateway {gateway} did not answer within {Patience.TotalSeconds:0.#} s");
            }
        }
        throw new GatewayException($"no gateway answered: {string.Join("; ", failures)}");
    }

    /// <summary>Connects, sends the preface and <paramref name="hello"/>, and returns the stream once the gateway says yes.</summary>
    public static async Task<(TlsStream Stream, Reply Reply)> HandshakeAsync(GatewayEndpoint gateway, Hello hello, CancellationToken cancellationToken) =>
        await HandshakeAsync(await ConnectTlsAsync(gateway, cancellationToken), gateway, hello, cancellationToken);

    /// <summary>
    /// <see cref="HandshakeAsync(GatewayEndpoint, Hello, CancellationToken)"/> with the first of
    /// <paramref name="gateways"/> that answers; a refusal is final, since gateways that share a store decide alike.
    /// </summary>
    public static async Task<(TlsStream Stream, Reply Reply, GatewayEndpoint Gateway)> HandshakeAsync(IReadOnlyList<GatewayEndpoint> gateways, Hello hello, CancellationToken cancellationToken)
    {
        var (tls, gateway) = await ConnectFirstAsync(gateways, cancellationToken);
        var (stream, reply) = await HandshakeAsync(tls, gateway, hello, cancellationToken);
        return (stream, reply, gateway);
    }

    /// <summary>The tunnel handshake on a TLS connection already made; disposes <paramref name="tls"/> if it fails.</summary>
    private static async Task<(TlsStream Stream, Reply Reply)> HandshakeAsync(TlsStream tls, GatewayEndpoint gateway, Hello hello, CancellationToken cancellationToken)
    {
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
