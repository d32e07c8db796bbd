using System.Net;
using System.Net.Sockets;

namespace Jumpgate.Cli.Client;

/// <summary>A loopback port for a program that cannot bind port 0 and say which it got (sshd, `ssh -L`).</summary>
internal static class LoopbackPort
{
    /// <summary>A port free a moment ago: bound, read back and released.</summary>
    public static int Free()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
