using System.Runtime.InteropServices;

namespace Jumpgate.Core.Streams.Kernel;

/// <summary>
/// Hands a connected socket to the process at the other end of a unix socket, as OpenSSH's
/// <c>ProxyUseFdpass yes</c> expects of its ProxyCommand: a one-byte message carrying the
/// descriptor in an SCM_RIGHTS control message (ssh's receiving side insists on exactly one byte
/// and one descriptor). The receiver then owns its own reference to the socket; ours may close.
/// </summary>
internal static unsafe class DescriptorPassing
{
    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr; sequential layout gives it the C padding on 32- and 64-bit alike.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr, followed in memory by its data aligned to a size_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ControlHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>Whether <paramref name="fd"/> is a unix-domain socket, the only kind a descriptor can be sent over.</summary>
    public static bool IsUnixSocket(int fd)
    {
        int domain = 0;
        uint length = sizeof(int);
        return Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_DOMAIN, &domain, &length) == 0 && domain == Libc.AF_UNIX;
    }

    /// <summary>Sends <paramref name="descriptor"/> over the unix socket <paramref name="channel"/>.</summary>
    public static void Send(int channel, int descriptor)
    {
        byte payload = 0;
        var vector = new IoVector { Base = &payload, Length = 1 };
        var dataOffset = Align(sizeof(ControlHeader));
        var space = dataOffset + Align(sizeof(int));
        var control = stackalloc byte[space];
        new Span<byte>(control, space).Clear();
        var header = (ControlHeader*)control;
        header->Length = (nuint)(dataOffset + sizeof(int));
        header->Level = Libc.SOL_SOCKET;
        header->Type = Libc.SCM_RIGHTS;
        *(int*)(control + dataOffset) = descriptor;
        var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)space };
        while (Libc.sendmsg(channel, &message, Libc.MSG_NOSIGNAL) != 1)
        {
            var errno = Libc.LastError;
            if (errno != Libc.EINTR)
            {
                throw Libc.Failure("sendmsg of a descriptor", errno);
            }
        }
    }

    /// <summary>
    /// Makes a socket's reads and writes block again (.NET leaves its sockets non-blocking). The
    /// flag belongs to the open socket, not to one descriptor, so the receiver gets the socket as a
    /// program that dialled it itself would have it.
    /// </summary>
    public static void MakeBlocking(int fd)
    {
        var flags = Libc.fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.fcntl(fd, Libc.F_SETFL, flags & ~Libc.O_NONBLOCK) != 0)
        {
            throw Libc.Failure("fcntl", Libc.LastError);
        }
    }

    /// <summary>A connected pair of unix stream sockets, both close-on-exec.</summary>
    public static (int First, int Second) Pair()
    {
        var fds = stackalloc int[2];
        if (Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, fds) != 0)
        {
            throw Libc.Failure("socketpair", Libc.LastError);
        }
        return (fds[0], fds[1]);
    }

    /// <summary>A close-on-exec copy of <paramref name="fd"/> at 3 or above.</summary>
    public static int Duplicate(int fd)
    {
        var copy = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 3);
        return copy >= 0 ? copy : throw Libc.Failure("fcntl(F_DUPFD_CLOEXEC)", Libc.LastError);
    }

    /// <summary>Puts <paramref name="fd"/> at <paramref name="target"/> (0 or 1: stdin, stdout), inherited by the programs this one starts.</summary>
    public static void Place(int fd, int target)
    {
        if (Libc.dup3(fd, target, 0) < 0)
        {
            throw Libc.Failure("dup3", Libc.LastError);
        }
    }

    public static void Close(int fd) => Libc.close(fd);

    private static int Align(int length) => (length + IntPtr.Size - 1) & ~(IntPtr.Size - 1);
}
