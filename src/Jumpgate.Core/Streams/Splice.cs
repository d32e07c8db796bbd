using System.Buffers;

namespace Jumpgate.Core.Streams;

/// <summary>
/// The one routine that relays a stream between its user's side and its service's side, on every
/// leg: the agent (trunk stream and service socket), the gateway (user's TLS and agent's trunk
/// stream, or two direct legs), the CLI (local connection or stdio and its trunk stream). Both
/// directions run at once; when one side reaches end of stream its end is passed on
/// (<see cref="ConnectionStream.CloseOutputAsync"/>) and the other direction carries on; when
/// either side fails, the other direction is cancelled and awaited before returning, and the
/// result names which side it was. A direction whose two ends are plain sockets or pipes may move
/// its bytes in the kernel instead of through a buffer (<see cref="SpliceMode.Kernel"/>).
/// </summary>
internal static partial class Splice
{
    /// <summary>Large enough that a bulk transfer makes few syscalls and TLS records stay full (16 KiB each).</summary>
    public const int BufferSize = 128 * 1024;

    /// <summary>How many waits in a row may end with nothing to read before a pump reads (and waits there) as it did before.</summary>
    private const int MaxEmptyWakeups = 64;

    public static Task<SpliceResult> RunAsync(ConnectionStream user, ConnectionStream service, CancellationToken cancellationToken, StreamMeters? meters = null, SpliceMode mode = SpliceMode.Copy)
    {
        meters ??= new StreamMeters();
        return RunAsync(
            ct => PumpAsync(user, service, meters, toService: true, mode, ct),
            ct => PumpAsync(service, user, meters, toService: false, mode, ct),
            meters,
            cancellationToken);
    }

    /// <summary>
    /// Splices a stream that was opened without waiting for its answer: the user's bytes go to the
    /// service's side at once, saving a round trip, while nothing goes back until
    /// <paramref name="answered"/> has read the service side's answer (its first bytes) and acted
    /// on it. If <paramref name="answered"/> throws, the splice ends as the service side's failure
    /// with that exception as its <see cref="SpliceResult.Error"/>.
    /// </summary>
    public static Task<SpliceResult> RunAsync(ConnectionStream user, ConnectionStream service, Func<CancellationToken, Task> answered, CancellationToken cancellationToken, StreamMeters? meters = null)
    {
        meters ??= new StreamMeters();
        return RunAsync(
            ct => PumpAsync(user, service, meters, toService: true, SpliceMode.Copy, ct),
            async ct =>
            {
                try
                {
                    await answered(ct);
                }
                catch (Exception e)
                {
                    // Our own cancellation (the other direction failed first) says nothing; anything else
                    // (a refusal, a broken answer, a dead leg) is the caller's to report.
                    return e is OperationCanceledException && ct.IsCancellationRequested ? Failure.None : new Failure(true, false, e);
                }
                return await PumpAsync(service, user, meters, toService: false, SpliceMode.Copy, ct);
            },
            meters,
            cancellationToken);
    }

    private delegate Task<Failure> Pump(CancellationToken cancellationToken);

    /// <summary>Who a pump blames when it stops: nobody, its source or its destination.</summary>
    private readonly record struct Failure(bool Source, bool Destination, Exception? Error)
    {
        public static Failure None => default;
        public bool Any => Source || Destination;
    }

    private static async Task<SpliceResult> RunAsync(Pump toService, Pump toUser, StreamMeters meters, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var forward = toService(stop.Token);
        var backward = toUser(stop.Token);

        var first = await Task.WhenAny(forward, backward);
        var firstFailure = await first;
        if (firstFailure.Any)
        {
            await stop.CancelAsync();
        }
        var other = first == forward ? backward : forward;
        var otherFailure = await other;

        if (cancellationToken.IsCancellationRequested)
        {
            return new SpliceResult(SpliceOutcome.Canceled, meters.ToService, meters.ToUser);
        }
        // Blame the first failure; a failure caused by our own cancellation afterwards says nothing.
        var (failure, fromForward) = firstFailure.Any ? (firstFailure, first == forward) : (otherFailure, other == forward);
        if (!failure.Any)
        {
            return new SpliceResult(SpliceOutcome.Completed, meters.ToService, meters.ToUser);
        }
        // Forward reads the user's side and writes the service's: a source failure there is the user's.
        var userSideFailed = fromForward ? failure.Source : failure.Destination;
        return new SpliceResult(userSideFailed ? SpliceOutcome.UserSideFailed : SpliceOutcome.ServiceSideFailed, meters.ToService, meters.ToUser, failure.Error);
    }

    private static async Task<Failure> PumpAsync(ConnectionStream source, ConnectionStream destination, StreamMeters meters, bool toService, SpliceMode mode, CancellationToken cancellationToken)
    {
        Failure SourceFailed(Exception e) => cancellationToken.IsCancellationRequested ? Failure.None : new Failure(true, false, e);
        var limit = Math.Min(destination.WriteSize, BufferSize);
        var gather = destination.GathersWrites && source.ZeroByteReadWaits;
        Gathered gathered = default;

        while (true)
        {
            if (mode is SpliceMode.Kernel && source.ReadDescriptor is { } from && destination.WriteDescriptor is { } to)
            {
                return await KernelPumpAsync(source, destination, from, to, meters, toService, cancellationToken);
            }
            try
            {
                // Wait for data without holding a buffer, so a quiet stream costs no buffer memory.
#pragma warning disable CA2022 // a zero-byte read returns no data by design
                await (gathered.Waiting ?? source.ReadAsync(Memory<byte>.Empty, cancellationToken));
                // A socket's wait can end on readiness left over from bytes already read
                // (ConnectionStream.ReadsAtOnce): with nothing in the kernel, wait again, still without a
                // buffer, instead of holding one in a read that waits for the peer. A wait that ends at
                // once (the end, a failure, bytes just come) goes on to the read, as a few spurious ones do.
                for (var again = 0; again < MaxEmptyWakeups && !source.ReadsAtOnce; again++)
                {
                    var waiting = source.ReadAsync(Memory<byte>.Empty, cancellationToken);
                    var atOnce = waiting.IsCompleted;
                    await waiting;
                    if (atOnce)
                    {
                        break;
                    }
                }
#pragma warning restore CA2022
            }
            catch (Exception e) when (IsStreamFailure(e))
            {
                return SourceFailed(e);
            }
            // A source that had bytes buffered above its descriptor offers it once they are gone (the wait above says so).
            if (mode is SpliceMode.Kernel && source.ReadDescriptor is { } drained && destination.WriteDescriptor is { } into)
            {
                return await KernelPumpAsync(source, destination, drained, into, meters, toService, cancellationToken);
            }
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                try
                {
                    var read = await source.ReadAsync(buffer.AsMemory(0, limit), cancellationToken);
                    gathered = read > 0 && gather
                        ? await Gathered.GatherAsync(source, buffer, read, limit, cancellationToken)
                        : new Gathered(read, read == 0, null, null);
                }
                catch (Exception e) when (IsStreamFailure(e))
                {
                    return SourceFailed(e);
                }
                if (gathered.Read > 0)
                {
                    try
                    {
                        // Not cancellable midway on purpose: a half-written TLS record would corrupt the stream.
                        await destination.WriteAsync(buffer.AsMemory(0, gathered.Read), CancellationToken.None);
                    }
                    catch (Exception e) when (IsStreamFailure(e) || e is NotSupportedException)
                    {
                        gathered.Abandon();
                        return cancellationToken.IsCancellationRequested ? Failure.None : new Failure(false, true, e);
                    }
                    meters.Add(toService, gathered.Read);
                }
                if (gathered.Error is { } error)
                {
                    return SourceFailed(error);
                }
                if (gathered.Ended)
                {
                    return await ShutdownWriteAsync(destination);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    internal static bool IsStreamFailure(Exception e) =>
        e is IOException or ObjectDisposedException or OperationCanceledException or System.Security.Authentication.AuthenticationException;

    private static async Task<Failure> ShutdownWriteAsync(ConnectionStream destination)
    {
        try
        {
            await destination.CloseOutputAsync();
            return Failure.None;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever stops the end from being passed on (OpenSSL refusing a close_notify included) is the destination's failure, not a crash.
            return new Failure(false, true, e);
        }
    }
}
