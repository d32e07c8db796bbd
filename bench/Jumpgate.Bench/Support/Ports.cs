using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Support;

/// <summary>Loopback ports: which are listening, read from the kernel rather than by connecting (a probe connection would reach iperf3 or sshd and confuse them).</summary>
internal static class Ports
{
    public static IPEndPoint Loopback(int port) => new(IPAddress.Loopback, port);

    /// <summary>True when something listens on 127.0.0.1:<paramref name="port"/> (or on any address), per /proc/net/tcp.</summary>
    public static bool IsListening(int port)
    {
        foreach (var line in Sockets())
        {
            // "  sl  local_address rem_address   st ..." with local_address as HEXIP:HEXPORT and st 0A for LISTEN.
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4 || fields[3] != "0A")
            {
                continue;
            }
            var local = fields[1].Split(':');
            if (int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port
                && local[0] is "0100007F" or "00000000" or "0000000000000000FFFF00000100007F" or "00000000000000000000000001000000" or "00000000000000000000000000000000")
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// How many established TCP connections have <paramref name="port"/> as their local port: for the echo
    /// server's port, the connections a relay still holds open to it.
    /// </summary>
    public static int EstablishedOn(int port) =>
        Sockets()
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields.Length > 3 && fields[3] == "01"
                && int.Parse(fields[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port);

    /// <summary>The kernel's table of TCP sockets, IPv4 and IPv6 (a dual-mode socket bound to 127.0.0.1 is listed under tcp6).</summary>
    private static IEnumerable<string> Sockets() =>
        File.ReadLines("/proc/net/tcp").Skip(1).Concat(File.Exists("/proc/net/tcp6") ? File.ReadLines("/proc/net/tcp6").Skip(1) : []);

    /// <summary>Waits (bounded) until the port listens; fails early, with the process's output, if <paramref name="owner"/> exits first.</summary>
    public static async Task WaitListeningAsync(int port, string what, ChildProcess? owner, TimeSpan timeout)
    {
        var ok = await Signals.UntilAsync(
            () => Task.FromResult(IsListening(port) || owner?.Exited.IsCompleted == true),
            timeout, TimeSpan.FromMilliseconds(20));
        if (owner?.Exited.IsCompleted == true || !ok)
        {
            var why = owner?.Exited.IsCompleted == true ? "exited" : $"did not listen on port {port} within {timeout.TotalSeconds:0} s";
            throw new InvalidOperationException($"{what} {why}. Its output:\n{owner?.Output}");
        }
    }

    private static readonly HashSet<int> s_handedOut = [];

    /// <summary>
    /// A free loopback port (sshd, socat and ssh -L cannot bind port 0 and say which they got), never one
    /// this run handed out before: two ports asked for in a row must not be the same one.
    /// </summary>
    public static int Free()
    {
        lock (s_handedOut)
        {
            for (var attempt = 0; ; attempt++)
            {
                var port = Sshd.FreePort();
                if (s_handedOut.Add(port) || attempt >= 50)
                {
                    return port;
                }
            }
        }
    }

    /// <summary>Connects with a bound wait; null when refused or reset.</summary>
    public static Socket? TryConnect(int port, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            var pending = socket.ConnectAsync(Loopback(port));
            if (!pending.Wait(timeout))
            {
                socket.Dispose();
                return null;
            }
            return socket;
        }
        catch (AggregateException e) when (e.InnerException is SocketException)
        {
            socket.Dispose();
            return null;
        }
    }
}
