using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Jumpgate.Core.Streams.Kernel;

namespace Jumpgate.Core.Streams;

internal static partial class Splice
{
    /// <summary>
    /// One direction in the kernel: splice(2) from the source into a pipe of this direction's own
    /// and from the pipe into the destination, so the bytes never enter user space. It tries
    /// first and waits only when a call would block, on both ends with <see cref="Readiness"/>,
    /// whose thread then runs its next splices: no hand-over to the thread pool per wake-up, and
    /// .NET has no wait for a full send buffer anyway. It leaves that thread for the pool before
    /// it ends (<see cref="ToPool"/>). The pipe is made when the first bytes arrive, so an idle
    /// stream holds none. End of stream and failures are passed on and blamed as in the copying pump.
    /// </summary>
    private static async Task<Failure> KernelPumpAsync(ConnectionStream destination, SafeHandle from, SafeHandle to, StreamMeters meters, bool toService, CancellationToken cancellationToken)
    {
        var failure = await KernelMoveAsync(from, to, meters, toService, cancellationToken);
        // What follows (the end passed on, the relay's verdict, the stream's record) is not the readiness thread's to run.
        await ToPool();
        return failure ?? await ShutdownWriteAsync(destination);
    }

    /// <summary>Moves bytes until the source ends (null) or a side fails.</summary>
    private static async Task<Failure?> KernelMoveAsync(SafeHandle from, SafeHandle to, StreamMeters meters, bool toService, CancellationToken cancellationToken)
    {
        Failure SourceFailed(Exception e) => cancellationToken.IsCancellationRequested ? Failure.None : new Failure(true, false, e);
        Failure DestinationFailed(Exception e) => cancellationToken.IsCancellationRequested ? Failure.None : new Failure(false, true, e);

        // Held for the whole pump, so neither descriptor number can be closed and reused by another file while it runs.
        bool fromAdded = false, toAdded = false;
        KernelPipe? pipe = null;
        try
        {
            from.DangerousAddRef(ref fromAdded);
            to.DangerousAddRef(ref toAdded);
            var (fromFd, toFd) = ((int)from.DangerousGetHandle(), (int)to.DangerousGetHandle());
            while (true)
            {
                long filled;
                try
                {
                    filled = pipe is null ? -Libc.EAGAIN : pipe.Fill(fromFd);
                    while (filled == -Libc.EAGAIN)
                    {
                        await Readiness.WaitReadableAsync(fromFd, cancellationToken);
                        pipe ??= KernelPipe.Open();
                        filled = pipe.Fill(fromFd);
                    }
                }
                catch (Exception e) when (IsStreamFailure(e))
                {
                    return SourceFailed(e);
                }
                if (filled == 0)
                {
                    return null;
                }
                for (var left = filled; left > 0;)
                {
                    long drained;
                    try
                    {
                        drained = pipe!.Drain(toFd, left);
                        if (drained == -Libc.EAGAIN)
                        {
                            await Readiness.WaitWritableAsync(toFd, cancellationToken);
                            continue;
                        }
                    }
                    catch (Exception e) when (IsStreamFailure(e))
                    {
                        return DestinationFailed(e);
                    }
                    left -= drained;
                    meters.Add(toService, (int)drained);
                }
            }
        }
        catch (ObjectDisposedException e)
        {
            // A descriptor closed under the pump (the stream was cut) before it could hold it.
            return SourceFailed(e);
        }
        finally
        {
            pipe?.Dispose();
            if (toAdded)
            {
                to.DangerousRelease();
            }
            if (fromAdded)
            {
                from.DangerousRelease();
            }
        }
    }

    /// <summary>Continues on the thread pool, wherever the caller was.</summary>
    private static YieldAwaitable ToPool() => Task.Yield();
}
