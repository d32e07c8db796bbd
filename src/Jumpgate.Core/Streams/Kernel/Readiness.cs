using System.Collections.Concurrent;

namespace Jumpgate.Core.Streams.Kernel;

/// <summary>
/// Waits until a descriptor can be read or written, for what .NET has no wait of its own: a
/// socket whose send buffer is full (a zero-byte send returns at once), and a pipe such as stdin.
/// One epoll set and one thread for the process; each wait arms its descriptor once
/// (EPOLLONESHOT), so an idle descriptor costs nothing, and a wake-up that finds nothing to do is
/// harmless because the caller tries again.
/// </summary>
internal static class Readiness
{
    private static readonly Lazy<int> Epoll = new(Start);
    private static readonly ConcurrentDictionary<int, TaskCompletionSource> Waiters = new();

    public static Task WaitReadableAsync(int fd, CancellationToken cancellationToken) => WaitAsync(fd, Libc.EPOLLIN, cancellationToken);

    public static Task WaitWritableAsync(int fd, CancellationToken cancellationToken) => WaitAsync(fd, Libc.EPOLLOUT, cancellationToken);

    private static unsafe Task WaitAsync(int fd, uint events, CancellationToken cancellationToken)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // One waiter per descriptor: each direction of a relay waits on its own descriptor.
        Waiters[fd] = waiter;
        var epollEvent = stackalloc byte[16];
        *(uint*)epollEvent = events | Libc.EPOLLONESHOT | Libc.EPOLLERR | Libc.EPOLLHUP;
        *(ulong*)(epollEvent + Libc.EpollDataOffset) = (ulong)fd;
        // Re-arm if it is already in the set (the common case), else add it.
        if (Libc.epoll_ctl(Epoll.Value, Libc.EPOLL_CTL_MOD, fd, epollEvent) != 0
            && (Libc.LastError != Libc.ENOENT || Libc.epoll_ctl(Epoll.Value, Libc.EPOLL_CTL_ADD, fd, epollEvent) != 0))
        {
            Waiters.TryRemove(new(fd, waiter));
            return Task.FromException(Libc.Failure("epoll_ctl", Libc.LastError));
        }
        return cancellationToken.CanBeCanceled ? WaitCancellablyAsync(fd, waiter, cancellationToken) : waiter.Task;
    }

    private static async Task WaitCancellablyAsync(int fd, TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        try
        {
            await waiter.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            // A cancelled wait leaves its descriptor armed; the event that fires later finds no waiter, or wakes the next one early, which tries again.
            Waiters.TryRemove(new(fd, waiter));
        }
    }

    private static int Start()
    {
        var epoll = Libc.epoll_create1(Libc.O_CLOEXEC);
        if (epoll < 0)
        {
            throw Libc.Failure("epoll_create1", Libc.LastError);
        }
        new Thread(() => Loop(epoll)) { IsBackground = true, Name = "jumpgate readiness" }.Start();
        return epoll;
    }

    private static unsafe void Loop(int epoll)
    {
        const int batch = 64;
        var events = stackalloc byte[batch * 16];
        while (true)
        {
            var count = Libc.epoll_wait(epoll, events, batch, -1);
            for (var i = 0; i < count; i++)
            {
                var fd = (int)*(ulong*)(events + i * Libc.EpollEventSize + Libc.EpollDataOffset);
                if (Waiters.TryRemove(fd, out var waiter))
                {
                    waiter.TrySetResult();
                }
            }
        }
    }
}
