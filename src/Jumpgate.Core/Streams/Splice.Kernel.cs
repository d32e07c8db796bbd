using System.Runtime.InteropServices;
using Jumpgate.Core.Streams.Kernel;

namespace Jumpgate.Core.Streams;

internal static partial class Splice
{
    /// <summary>
    /// One direction in the kernel: splice(2) from the source into a pipe of this direction's own
    /// and from the pipe into the destination, so the bytes never enter user space. It tries
    /// first and waits only when a call would block: for the source with a zero-byte read where
    /// that waits (a socket), else with <see cref="Readiness"/>; for the destination always with
    /// <see cref="Readiness"/>, as .NET has no wait for a full send buffer. The pipe is made when
    /// the first bytes arrive, so an idle stream holds none. End of stream and failures are
    /// passed on and blamed as in the copying pump.
    /// </summary>
    private static async Task<Failure> KernelPumpAsync(ConnectionStream source, ConnectionStream destination, SafeHandle from, SafeHandle to, StreamMeters meters, bool toService, CancellationToken cancellationToken)
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
                        await WaitReadableAsync(source, fromFd, cancellationToken);
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
                    return await ShutdownWriteAsync(destination);
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

    private static async Task WaitReadableAsync(ConnectionStream source, int fd, CancellationToken cancellationToken)
    {
        if (source.ZeroByteReadWaits)
        {
#pragma warning disable CA2022 // a zero-byte read returns no data by design
            await source.ReadAsync(Memory<byte>.Empty, cancellationToken);
#pragma warning restore CA2022
        }
        else
        {
            await Readiness.WaitReadableAsync(fd, cancellationToken);
        }
    }
}
