using System.Collections.Concurrent;

namespace Jumpgate.Core.Streams.Kernel;

/// <summary>
/// Waits until a descriptor can be read or written, for the relays that splice in the kernel: one
/// epoll set and one thread per two cores (a descriptor always goes to the same one), as HAProxy
/// and nginx relay on a thread per worker. The waiter's continuation runs on that thread, so a
/// splice that was waiting moves its next bytes with no hand-over to the thread pool; what waits
/// here must only make non-blocking calls before it waits again, and leave for the pool before
/// anything else (<see cref="Splice"/>'s kernel pump does). Each wait arms its descriptor once
/// (EPOLLONESHOT), so an idle descriptor costs nothing; a descriptor may have one reader and one
/// writer waiting at once (the two directions of a relay share each socket), and a wake-up that
/// finds nothing to do is harmless because the caller tries again.
/// </summary>
internal static class Readiness
{
    private static readonly Lazy<Loop[]> Loops = new(() =>
        [.. Enumerable.Range(0, Math.Max(1, Environment.ProcessorCount / 2)).Select(i => new Loop(i))]);

    public static Task WaitReadableAsync(int fd, CancellationToken cancellationToken) => For(fd).WaitAsync(fd, reading: true, cancellationToken);

    public static Task WaitWritableAsync(int fd, CancellationToken cancellationToken) => For(fd).WaitAsync(fd, reading: false, cancellationToken);

    private static Loop For(int fd) => Loops.Value[fd % Loops.Value.Length];

    /// <summary>Who waits on one descriptor: at most a reader and a writer.</summary>
    private sealed class Waiters
    {
        public TaskCompletionSource? Reader;
        public TaskCompletionSource? Writer;
    }

    private sealed class Loop
    {
        private readonly int _epoll;
        private readonly ConcurrentDictionary<int, Waiters> _waiters = new();

        public Loop(int index)
        {
            _epoll = Libc.epoll_create1(Libc.O_CLOEXEC);
            if (_epoll < 0)
            {
                throw Libc.Failure("epoll_create1", Libc.LastError);
            }
            new Thread(Run) { IsBackground = true, Name = $"jumpgate readiness {index}" }.Start();
        }

        public Task WaitAsync(int fd, bool reading, CancellationToken cancellationToken)
        {
            // No RunContinuationsAsynchronously: the caller's next splice runs on this loop's thread (see the class).
            var waiter = new TaskCompletionSource();
            var waiters = _waiters.GetOrAdd(fd, _ => new Waiters());
            lock (waiters)
            {
                if (reading)
                {
                    waiters.Reader = waiter;
                }
                else
                {
                    waiters.Writer = waiter;
                }
                if (Arm(fd, waiters) is { } failure)
                {
                    Take(waiters, waiter);
                    return Task.FromException(failure);
                }
            }
            return cancellationToken.CanBeCanceled ? WaitCancellablyAsync(waiters, waiter, cancellationToken) : waiter.Task;
        }

        private static async Task WaitCancellablyAsync(Waiters waiters, TaskCompletionSource waiter, CancellationToken cancellationToken)
        {
            try
            {
                await waiter.Task.WaitAsync(cancellationToken);
            }
            finally
            {
                // A cancelled wait leaves its descriptor armed; the event that fires later finds no waiter, or wakes the next one early, which tries again.
                lock (waiters)
                {
                    Take(waiters, waiter);
                }
            }
        }

        private static void Take(Waiters waiters, TaskCompletionSource waiter)
        {
            if (waiters.Reader == waiter)
            {
                waiters.Reader = null;
            }
            if (waiters.Writer == waiter)
            {
                waiters.Writer = null;
            }
        }

        /// <summary>Arms the descriptor for what its waiters wait for (under their lock); null, or why epoll refused.</summary>
        private unsafe IOException? Arm(int fd, Waiters waiters)
        {
            var events = (waiters.Reader is null ? 0 : Libc.EPOLLIN) | (waiters.Writer is null ? 0 : Libc.EPOLLOUT);
            if (events == 0)
            {
                return null;
            }
            var epollEvent = stackalloc byte[16];
            *(uint*)epollEvent = events | Libc.EPOLLONESHOT | Libc.EPOLLERR | Libc.EPOLLHUP;
            *(ulong*)(epollEvent + Libc.EpollDataOffset) = (ulong)fd;
            // Re-arm if it is already in the set (the common case), else add it.
            if (Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_MOD, fd, epollEvent) != 0
                && (Libc.LastError != Libc.ENOENT || Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, fd, epollEvent) != 0))
            {
                return Libc.Failure("epoll_ctl", Libc.LastError);
            }
            return null;
        }

        private unsafe void Run()
        {
            const int batch = 64;
            var events = stackalloc byte[batch * 16];
            while (true)
            {
                var count = Libc.epoll_wait(_epoll, events, batch, -1);
                for (var i = 0; i < count; i++)
                {
                    var happened = *(uint*)(events + i * Libc.EpollEventSize);
                    var fd = (int)*(ulong*)(events + i * Libc.EpollEventSize + Libc.EpollDataOffset);
                    if (!_waiters.TryGetValue(fd, out var waiters))
                    {
                        continue;
                    }
                    TaskCompletionSource? reader = null, writer = null;
                    var failed = (happened & (Libc.EPOLLERR | Libc.EPOLLHUP)) != 0;
                    lock (waiters)
                    {
                        if (failed || (happened & Libc.EPOLLIN) != 0)
                        {
                            (reader, waiters.Reader) = (waiters.Reader, null);
                        }
                        if (failed || (happened & Libc.EPOLLOUT) != 0)
                        {
                            (writer, waiters.Writer) = (waiters.Writer, null);
                        }
                        // One shot: the other direction's waiter, if any, needs its descriptor armed again.
                        Arm(fd, waiters);
                    }
                    // Outside the lock: each continuation splices and may wait on this descriptor again.
                    reader?.TrySetResult();
                    writer?.TrySetResult();
                }
            }
        }
    }
}
