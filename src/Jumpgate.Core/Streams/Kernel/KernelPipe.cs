namespace Jumpgate.Core.Streams.Kernel;

/// <summary>
/// The pipe that one direction of a kernel splice moves its bytes through (splice(2) needs a pipe
/// at one end of each call). Both ends are non-blocking; its size is the kernel's default, 64 KiB,
/// because larger pipes count against a per-user limit that many busy streams would reach.
/// </summary>
internal sealed class KernelPipe : IDisposable
{
    private readonly int _read;
    private readonly int _write;

    private KernelPipe(int read, int write) => (_read, _write) = (read, write);

    /// <summary>At most this much per call: the pipe's size.</summary>
    public const int Capacity = 64 * 1024;

    public static unsafe KernelPipe Open()
    {
        var fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_NONBLOCK | Libc.O_CLOEXEC) != 0)
        {
            throw Libc.Failure("pipe2", Libc.LastError);
        }
        return new KernelPipe(fds[0], fds[1]);
    }

    /// <summary>Moves what the source has, up to the pipe's size, into the empty pipe: the count, 0 at end of stream, or -EAGAIN.</summary>
    public long Fill(int source) => Move(source, _write, Capacity, "splice from the source");

    /// <summary>Moves up to <paramref name="count"/> bytes from the pipe to the destination: the count, or -EAGAIN.</summary>
    public long Drain(int destination, long count) => Move(_read, destination, count, "splice to the destination");

    private static long Move(int from, int to, long count, string what)
    {
        while (true)
        {
            var moved = (long)Libc.splice(from, 0, to, 0, (nuint)count, Libc.SPLICE_F_MOVE | Libc.SPLICE_F_NONBLOCK);
            if (moved >= 0)
            {
                return moved;
            }
            var errno = Libc.LastError;
            if (errno == Libc.EAGAIN)
            {
                return -Libc.EAGAIN;
            }
            if (errno != Libc.EINTR)
            {
                throw Libc.Failure(what, errno);
            }
        }
    }

    public void Dispose()
    {
        Libc.close(_read);
        Libc.close(_write);
    }
}
