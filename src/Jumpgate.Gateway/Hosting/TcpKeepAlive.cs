using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Jumpgate.Gateway.Hosting;

/// <summary>
/// Kestrel connection middleware, first on the listener: TCP keepalive on every accepted socket,
/// so a peer that vanishes without a word (a laptop's lid closed, its Wi-Fi gone) is noticed in
/// <see cref="Idle"/> + <see cref="Probes"/> × <see cref="Interval"/> (60 s) and its connection,
/// with every stream on it, is closed instead of held until the service ends it.
/// </summary>
internal static class TcpKeepAlive
{
    /// <summary>Silence before the first probe. 30 s: well inside the idle timeouts of home routers and NATs (often 60 s and more).</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromSeconds(30);

    /// <summary>Between unanswered probes.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>Unanswered probes before the kernel drops the connection.</summary>
    public const int Probes = 3;

    public static Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
        {
            Enable(socket);
        }
        return next(connection);
    }

    public static void Enable(Socket socket)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Idle.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)Interval.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, Probes);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer is already gone: there is nothing left to keep alive, and the next read says so.
        }
    }
}
