using System.Diagnostics;
using Jumpgate.Cli.Commands;
using Jumpgate.Core.Streams;
using Jumpgate.Core.Streams.Kernel;

namespace Jumpgate.Cli.Client;

/// <summary>
/// How `proxy --fdpass` gives ssh its connection (OpenSSH's <c>ProxyUseFdpass yes</c>;
/// docs/protocol.md, "Handing ssh the leg"): ssh reads one descriptor from our stdout, a unix
/// socket, and waits for this process to exit before it uses it. A plain leg is handed over
/// itself, so no process of ours copies a byte of the stream; any other path needs a relay, which
/// cannot stay in this process, so it runs in one started here and left behind.
/// </summary>
internal static class FdpassHandoff
{
    private const int Stdin = 0;
    private const int Stdout = 1;

    /// <summary>Refuses before anything is dialled when stdout cannot carry a descriptor.</summary>
    public static void RequireUnixStdout()
    {
        if (!DescriptorPassing.IsUnixSocket(Stdout))
        {
            throw new CliException("proxy --fdpass hands ssh its connection over stdout, which must be the unix socket that ssh makes for "
                + "`ProxyUseFdpass yes`, and here it is not one; run it from ssh with ProxyUseFdpass yes (as `jumpgate ssh-config` writes it), or leave out --fdpass");
        }
    }

    /// <summary>
    /// Hands ssh the plain leg, paired and proved: from here on ssh reads and writes the gateway's
    /// socket itself. The leg's handshake read exactly its nonce (the gateway sends nothing more
    /// until both ends have sent SSH's first line), so no byte of the stream is left behind here.
    /// </summary>
    public static void HandOver(SocketStream leg)
    {
        var fd = (int)leg.ReadDescriptor.DangerousGetHandle();
        DescriptorPassing.MakeBlocking(fd);
        DescriptorPassing.Send(Stdout, fd);
        // The leg is deliberately not disposed: .NET may set SO_LINGER 0 on a socket it closes, which
        // would turn ssh's eventual close into a reset. Exiting drops this process's reference as close(2) does.
    }

    /// <summary>
    /// Any path but a plain leg: a socket pair, one end handed to ssh and the other made the stdin
    /// and stdout of `jumpgate proxy HOST PORT <paramref name="options"/>`, which relays as a
    /// ProxyCommand always has (it ends when ssh closes its end) and outlives this process.
    /// </summary>
    public static void HandToRelay(string host, string port, IReadOnlyList<string> options)
    {
        var (relayEnd, sshEnd) = DescriptorPassing.Pair();
        var channel = DescriptorPassing.Duplicate(Stdout);
        DescriptorPassing.Place(relayEnd, Stdin);
        DescriptorPassing.Place(relayEnd, Stdout);
        DescriptorPassing.Close(relayEnd);
        var (program, assembly) = ClientCommands.SelfProgram();
        var start = new ProcessStartInfo(program) { UseShellExecute = false };
        if (assembly is not null)
        {
            start.ArgumentList.Add(assembly);
        }
        foreach (var argument in (string[])["proxy", host, port, .. options])
        {
            start.ArgumentList.Add(argument);
        }
        // Inherits stdin, stdout (the pair's end) and stderr (ssh's, for -v and refusals); every other descriptor is close-on-exec.
        using (Process.Start(start) ?? throw new CliException($"could not start {program} to relay the stream"))
        {
        }
        DescriptorPassing.Send(channel, sshEnd);
        DescriptorPassing.Close(sshEnd);
        DescriptorPassing.Close(channel);
    }
}
