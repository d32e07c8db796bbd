namespace Jumpgate.Core.Streams;

/// <summary>
/// What one round of a <see cref="Splice"/> pump read: its bytes, whether the source ended or
/// failed after them, and a wait for more data that had not finished when the round stopped
/// gathering (the next round awaits it).
/// </summary>
internal readonly record struct Gathered(int Read, bool Ended, Exception? Error, ValueTask<int>? Waiting)
{
    /// <summary>The pump stops with a wait still out: its end (the streams' disposal) is nobody's news.</summary>
    public void Abandon()
    {
        if (Waiting is { } waiting)
        {
            _ = Observe(waiting);
        }

        static async Task Observe(ValueTask<int> waiting)
        {
            try
            {
                await waiting;
            }
            catch (Exception)
            {
                // The pump already failed and said why; whatever ends the abandoned read adds nothing.
            }
        }
    }

    /// <summary>
    /// Adds to <paramref name="buffer"/> whatever more has already arrived, so that it goes into one
    /// frame: a TLS source returns one 16 KiB record per read, and a frame of one record would cross
    /// the trunk as two (its 8-byte header spills into a record of its own). It never waits for data
    /// that is not there yet: the first wait that does not finish at once goes to the next round, and
    /// a zero-byte read that finishes with nothing to read (<see cref="ConnectionStream.ReadsAtOnce"/>) ends the round.
    /// </summary>
    public static async ValueTask<Gathered> GatherAsync(ConnectionStream source, byte[] buffer, int read, int limit, CancellationToken cancellationToken)
    {
        try
        {
            while (read < limit)
            {
#pragma warning disable CA2022 // a zero-byte read returns no data by design
                var waiting = source.ReadAsync(Memory<byte>.Empty, cancellationToken);
#pragma warning restore CA2022
                if (!waiting.IsCompleted)
                {
                    return new Gathered(read, false, null, waiting);
                }
                await waiting;
                if (!source.ReadsAtOnce)
                {
                    // Woken with nothing to read (a socket's leftover readiness): what was read goes now, and the next round waits.
                    return new Gathered(read, false, null, null);
                }
                var more = await source.ReadAsync(buffer.AsMemory(read, limit - read), cancellationToken);
                if (more == 0)
                {
                    return new Gathered(read, true, null, null);
                }
                read += more;
            }
            return new Gathered(read, false, null, null);
        }
        catch (Exception e) when (Splice.IsStreamFailure(e))
        {
            // What came before the failure still goes on; the failure is reported after it.
            return new Gathered(read, false, e, null);
        }
    }
}
