using System.Runtime.InteropServices;

namespace Jumpgate.Core.Streams.Kernel;

/// <summary>
/// The few Linux calls that move bytes between descriptors without user space: splice(2), its
/// pipes and an epoll set to wait on them; and sendmsg(2), which hands a descriptor to another process. Bound with LibraryImport, so they work in Native AOT.
/// </summary>
internal static partial class Libc
{
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOENT = 2;

    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_SETPIPE_SZ = 1031;

    public const uint SPLICE_F_MOVE = 1;
    public const uint SPLICE_F_NONBLOCK = 2;

    public const int AF_UNIX = 1;
    public const int SOL_SOCKET = 1;
    public const int SO_DOMAIN = 39;
    public const int SCM_RIGHTS = 1;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = O_NONBLOCK;
    public const int SOCK_CLOEXEC = O_CLOEXEC;

    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLONESHOT = 1u << 30;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_MOD = 3;

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint splice(int fdIn, nint offIn, int fdOut, nint offOut, nuint length, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int socketpair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial nint sendmsg(int socket, void* message, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int getsockopt(int socket, int level, int name, int* value, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup3(int oldFd, int newFd, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int epoll_ctl(int epoll, int operation, int fd, byte* epollEvent);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int epoll_wait(int epoll, byte* events, int maxEvents, int timeout);

    /// <summary>struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Where the 64-bit data field sits inside struct epoll_event.</summary>
    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    public static int LastError => Marshal.GetLastPInvokeError();

    public static IOException Failure(string call, int errno) =>
        new($"{call}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
}
