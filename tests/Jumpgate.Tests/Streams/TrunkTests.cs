using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// A trunk over one real loopback TCP connection: the opener's streams arrive at the acceptor,
/// which echoes each one back (or does what a test asks), as the gateway and an agent do.
/// </summary>
public sealed class TrunkTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = Signals.Timeout(30);

    private readonly CancellationTokenSource _stop = new();
    private Trunk _opener = null!;
    private Trunk _acceptor = null!;
    private Task _openerLoop = null!;
    private Task _acceptorLoop = null!;
    private Func<TrunkStream, Task> _serve = EchoAsync;
    private readonly ConcurrentQueue<Exception> _handlerFailures = new();

    public async Task InitializeAsync()
    {
        var (client, server) = await LoopbackSockets.ConnectAsync();
        _opener = new Trunk(new NetworkStream(client, ownsSocket: true), opener: true);
        _acceptor = new Trunk(new NetworkStream(server, ownsSocket: true), opener: false, accept: stream => _serve(stream), acceptFailed: _handlerFailures.Enqueue);
        _openerLoop = _opener.RunAsync(_stop.Token);
        _acceptorLoop = _acceptor.RunAsync(_stop.Token);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_openerLoop, _acceptorLoop).WaitAsync(Timeout);
        _stop.Dispose();
    }

    private static async Task EchoAsync(TrunkStream stream)
    {
        await using var _ = stream;
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, read));
        }
        await stream.CloseOutputAsync();
    }

    /// <summary>Sends <paramref name="payload"/>, ends the output, and reads until the peer ends too.</summary>
    private static async Task<byte[]> RoundTripAsync(TrunkStream stream, byte[] payload)
    {
        var reading = ReadToEndAsync(stream);
        await stream.WriteAsync(payload);
        await stream.CloseOutputAsync();
        return await reading.WaitAsync(Timeout);
    }

    private static Task WhenCancelledAsync(CancellationToken token)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => cancelled.TrySetResult());
        return cancelled.Task.WaitAsync(Timeout, CancellationToken.None);
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var received = new MemoryStream();
        await stream.CopyToAsync(received);
        return received.ToArray();
    }

    /// <summary>A user's TLS connection whose gateway end is spliced into a new stream on the trunk (the acceptor serves it).</summary>
    private async Task<(TlsStream User, TlsStream GatewaySide, Task<SpliceResult> Splice)> SpliceTlsIntoStreamAsync(LoopbackTls tls)
    {
        var (user, gatewaySide) = await tls.ConnectAsync();
        return (user, gatewaySide, Splice.RunAsync(gatewaySide, _opener.Open(), CancellationToken.None));
    }

    [Fact]
    public async Task FiftyStreamsOpenedAtOnceEachGetTheirOwnBytesBack()
    {
        var runs = Enumerable.Range(0, 50).Select(async i =>
        {
            await using var stream = _opener.Open();
            var payload = RandomNumberGenerator.GetBytes(64 * 1024 + i);
            return (payload, back: await RoundTripAsync(stream, payload));
        });

        foreach (var (payload, back) in await Task.WhenAll(runs).WaitAsync(Timeout))
        {
            Assert.Equal(payload, back);
        }
        Assert.Equal(0, _opener.StreamCount);
    }

    [Fact]
    public async Task MovesMoreThanTheWindowThroughOneStream()
    {
        await using var stream = _opener.Open();
        var payload = RandomNumberGenerator.GetBytes(5 * Trunk.Window + 123);

        Assert.Equal(payload, await RoundTripAsync(stream, payload));
    }

    [Fact]
    public async Task ATlsConnectionSplicedIntoAStreamCarriesEveryByteAndItsEndBothWays()
    {
        // The gateway's shape for `jumpgate proxy` (ssh, scp): a user's TLS connection spliced into a trunk stream
        // to the agent, which echoes here. Sent in uneven pieces, so the splice gathers records of every size into frames.
        using var tls = new LoopbackTls();
        var (user, gatewaySide, splice) = await SpliceTlsIntoStreamAsync(tls);
        await using var _ = user;
        await using var __ = gatewaySide;
        var payload = RandomNumberGenerator.GetBytes(3 * Trunk.Window + 4321);
        var back = ReadToEndAsync(user);

        for (var at = 0; at < payload.Length;)
        {
            var piece = Math.Min(payload.Length - at, Random.Shared.Next(1, 40_000));
            await user.WriteAsync(payload.AsMemory(at, piece));
            at += piece;
        }
        await user.CloseOutputAsync();

        Assert.Equal(payload, await back.WaitAsync(Timeout));
        Assert.Equal(SpliceOutcome.Completed, (await splice.WaitAsync(Timeout)).Outcome);
    }

    [Fact]
    public async Task AKeystrokeThroughATlsConnectionSplicedIntoAStreamGoesOnWithoutWaitingForMore()
    {
        // What an interactive ssh session does: the splice gathers only what has already arrived, never waits for more.
        using var tls = new LoopbackTls();
        var (user, gatewaySide, splice) = await SpliceTlsIntoStreamAsync(tls);
        await using var _ = user;
        await using var __ = gatewaySide;

        var echo = new byte[1];
        foreach (var key in "ls -l\n"u8.ToArray())
        {
            await user.WriteAsync(new[] { key });
            await user.ReadExactlyAsync(echo).AsTask().WaitAsync(Timeout);
            Assert.Equal(key, echo[0]);
        }
        await user.CloseOutputAsync();
        Assert.Empty(await ReadToEndAsync(user).WaitAsync(Timeout));
        Assert.Equal(SpliceOutcome.Completed, (await splice.WaitAsync(Timeout)).Outcome);
    }

    [Fact]
    public async Task AStreamNobodyReadsHoldsBackOnlyItself()
    {
        var stalled = new TaskCompletionSource<TrunkStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        _serve = stream =>
        {
            stalled.TrySetResult(stream);
            return Task.CompletedTask;
        };
        await using var stuck = _opener.Open();
        // The first write opens the stream; the acceptor keeps it and never reads.
        await stuck.WriteAsync(new byte[1]);
        await using var unread = await stalled.Task.WaitAsync(Timeout);
        var filling = stuck.WriteAsync(new byte[2 * Trunk.Window]).AsTask();

        _serve = EchoAsync;
        await using var other = _opener.Open();
        var payload = RandomNumberGenerator.GetBytes(256 * 1024);
        Assert.Equal(payload, await RoundTripAsync(other, payload));
        Assert.False(filling.IsCompleted, "the writer of the stalled stream should wait for credit");

        // Reading the stalled stream gives credit back, and its writer finishes.
        var drained = new byte[2 * Trunk.Window + 1];
        await unread.ReadExactlyAsync(drained).AsTask().WaitAsync(Timeout);
        await filling.WaitAsync(Timeout);
    }

    [Fact]
    public async Task AWindowOfOneByteFramesToAStalledStreamHoldsNoMoreThanTheWindowAndArrivesIntact()
    {
        // A peer's trunk written by hand, so it can send what the opener never would: a window's worth of 1-byte data frames.
        var (client, server) = await LoopbackSockets.ConnectAsync();
        using var peer = client;
        var stalled = new TaskCompletionSource<TrunkStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        var acceptor = new Trunk(new NetworkStream(server, ownsSocket: true), opener: false, accept: stream =>
        {
            stalled.TrySetResult(stream);
            return Task.CompletedTask;
        }, acceptFailed: _handlerFailures.Enqueue);
        var loop = acceptor.RunAsync(_stop.Token);
        var frames = new byte[Trunk.Window * (Trunk.HeaderSize + 1)];
        for (var i = 0; i < Trunk.Window; i++)
        {
            var frame = frames.AsSpan(i * (Trunk.HeaderSize + 1), Trunk.HeaderSize + 1);
            frame[0] = 1; // data
            frame[3] = 1; // one byte of payload
            frame[7] = 1; // stream 1
            frame[8] = (byte)(i * 7 + i / 256);
        }

        await peer.SendAsync(frames);
        await using var unread = await stalled.Task.WaitAsync(Timeout);
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(unread.Buffered == Trunk.Window), Timeout, TimeSpan.FromMilliseconds(10)), $"only {unread.Buffered} of {Trunk.Window} bytes arrived");

        Assert.True(unread.HeldBytes <= Trunk.Window + 2 * TrunkStream.ChunkSize,
            $"a window of 1-byte frames ({Trunk.Window} bytes) holds {unread.HeldBytes} bytes; at most {Trunk.Window + 2 * TrunkStream.ChunkSize} expected");
        var received = new byte[Trunk.Window];
        await unread.ReadExactlyAsync(received).AsTask().WaitAsync(Timeout);
        for (var i = 0; i < Trunk.Window; i++)
        {
            Assert.True(received[i] == (byte)(i * 7 + i / 256), $"byte {i} arrived as {received[i]}");
        }
        Assert.Equal(0, unread.HeldBytes);
        acceptor.Close();
        await loop.WaitAsync(Timeout);
    }

    [Fact]
    public async Task AResetReachesThePeerAfterWhatWasSentBeforeIt()
    {
        _serve = async stream =>
        {
            await stream.WriteAsync("refused"u8.ToArray());
            stream.Abort();
        };
        await using var stream = _opener.Open();
        await stream.WriteAsync("hello"u8.ToArray());

        var buffer = new byte[7];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(Timeout);
        Assert.Equal("refused"u8.ToArray(), buffer);
        await Assert.ThrowsAsync<IOException>(async () => await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(Timeout));
        await Assert.ThrowsAsync<IOException>(async () => await stream.WriteAsync(new byte[1]).AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public async Task ClosingTheConnectionFailsEveryStreamOnIt()
    {
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _serve = _ =>
        {
            opened.TrySetResult();
            return Task.CompletedTask;
        };
        await using var stream = _opener.Open();
        await stream.WriteAsync(new byte[1]);
        await opened.Task.WaitAsync(Timeout);
        var reading = stream.ReadAsync(new byte[1]).AsTask();

        _acceptor.Close();

        await Assert.ThrowsAsync<IOException>(() => reading.WaitAsync(Timeout));
        await WhenCancelledAsync(_opener.Closed);
        Assert.False(_opener.IsOpen);
    }

    [Fact]
    public async Task ADrainedTrunkClosesWhenItsLastStreamEnds()
    {
        await using var stream = _opener.Open();
        var first = RandomNumberGenerator.GetBytes(100);
        await stream.WriteAsync(first);

        _opener.Drain();
        Assert.False(_opener.IsOpen);
        Assert.False(_opener.Closed.IsCancellationRequested);

        // The open stream still works to its end; then the connection closes.
        var back = new byte[100];
        await stream.ReadExactlyAsync(back).AsTask().WaitAsync(Timeout);
        Assert.Equal(first, back);
        await stream.CloseOutputAsync();
        Assert.Equal(0, await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(Timeout));
        await WhenCancelledAsync(_opener.Closed);
    }

    [Fact]
    public async Task AStreamHandlerThatFailsIsReportedOnceAndTheTrunkCarriesOn()
    {
        var failure = new InvalidOperationException("the handler broke");
        _serve = async stream =>
        {
            await using var _ = stream;
            await stream.ReadExactlyAsync(new byte[1]);
            throw failure;
        };
        await using (var broken = _opener.Open())
        {
            await broken.WriteAsync(new byte[1]);
            Assert.True(await Signals.UntilAsync(() => Task.FromResult(!_handlerFailures.IsEmpty), Timeout, TimeSpan.FromMilliseconds(10)), "the handler's failure was not reported");
        }

        _serve = EchoAsync;
        await using var next = _opener.Open();
        var payload = RandomNumberGenerator.GetBytes(1000);
        Assert.Equal(payload, await RoundTripAsync(next, payload));
        Assert.Same(failure, Assert.Single(_handlerFailures));
    }

    [Fact]
    public async Task ATrunkStopsOnlyOnceEveryStreamHandlerHasEnded()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reset = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlerEnded = false;
        _serve = async stream =>
        {
            await using var _ = stream;
            await stream.ReadExactlyAsync(new byte[1]);
            started.TrySetResult();
            // Still busy after its stream is gone (say, writing its audit event): the trunk waits for it.
            await Assert.ThrowsAsync<IOException>(async () => await stream.ReadExactlyAsync(new byte[1]));
            reset.TrySetResult();
            await release.Task;
            handlerEnded = true;
        };
        await using var stream = _opener.Open();
        await stream.WriteAsync(new byte[1]);
        await started.Task.WaitAsync(Timeout);

        _acceptor.Close();
        await reset.Task.WaitAsync(Timeout);
        Assert.False(_acceptorLoop.IsCompleted, "the trunk stopped while a stream handler still ran");

        release.TrySetResult();
        await _acceptorLoop.WaitAsync(Timeout);
        Assert.True(handlerEnded);
        Assert.Empty(_handlerFailures);
    }

    /// <summary>
    /// An opener whose peer is a bare socket that reads nothing until the test does, with buffers
    /// too small for one frame: a frame's write then holds the trunk's write lock until the peer reads.
    /// </summary>
    private async Task<(Trunk Opener, Socket Peer, Task Loop)> OpenerWithStalledPeerAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { SendBufferSize = 4096, NoDelay = true };
        var accepting = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        var peer = await accepting.WaitAsync(Timeout);
        var opener = new Trunk(new NetworkStream(client, ownsSocket: true), opener: true);
        return (opener, peer, opener.RunAsync(_stop.Token));
    }

    /// <summary>Starts a frame's write that the stalled peer holds up, so the trunk's write lock stays taken.</summary>
    private static Task HoldWriteLock(TrunkStream holder) => holder.WriteAsync(new byte[Trunk.MaxPayload]).AsTask();

    [Fact]
    public async Task AStreamAbortedWhileItsFirstFrameWaitsToBeWrittenNeverOpens()
    {
        var (opener, peer, loop) = await OpenerWithStalledPeerAsync();
        using var _ = peer;
        await using var holder = opener.Open();
        var holding = HoldWriteLock(holder);
        await using var aborted = opener.Open();
        var waiting = aborted.WriteAsync("request"u8.ToArray()).AsTask();
        Assert.False(holding.IsCompleted, "the first frame should still be held up by the peer (the socket buffers were too large)");
        Assert.False(waiting.IsCompleted);

        aborted.Abort();
        await LoopbackSockets.ReadExactlyAsync(peer, Trunk.HeaderSize + Trunk.MaxPayload);
        await holding.WaitAsync(Timeout);
        var outcome = await Record.ExceptionAsync(() => waiting.WaitAsync(Timeout));

        // It holds no place among the trunk's streams (max_streams), and the peer hears nothing of it:
        // the next frame on the connection is the holder's.
        Assert.Equal(1, opener.StreamCount);
        await holder.WriteAsync(new byte[1]);
        var next = await LoopbackSockets.ReadExactlyAsync(peer, Trunk.HeaderSize + 1);
        Assert.Equal(holder.Id, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(next.AsSpan(4)));
        Assert.IsType<IOException>(outcome);
        opener.Close();
        await loop.WaitAsync(Timeout);
    }

    [Fact]
    public async Task AStreamWhoseFirstFrameWaitedWhileTheTrunkClosedFailsItsReadsToo()
    {
        var (opener, peer, loop) = await OpenerWithStalledPeerAsync();
        using var _ = peer;
        await using var holder = opener.Open();
        var holding = HoldWriteLock(holder);
        await using var waiter = opener.Open();
        var waiting = waiter.WriteAsync("request"u8.ToArray()).AsTask();
        Assert.False(holding.IsCompleted, "the first frame should still be held up by the peer (the socket buffers were too large)");

        opener.Close();

        await loop.WaitAsync(Timeout);
        await Assert.ThrowsAsync<IOException>(() => holding.WaitAsync(Timeout));
        await Assert.ThrowsAsync<IOException>(() => waiting.WaitAsync(Timeout));
        // What a caller that reads the answer sees: the stream is gone with its trunk, not silent forever.
        await Assert.ThrowsAsync<IOException>(async () => await waiter.ReadAsync(new byte[1]).AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public async Task ATrunkClosedByAStreamHandlerStartsNoStreamThatArrivedBehindIt()
    {
        // Two new streams in one write from a hand-written opener: the handler of the first closes the trunk
        // (as a drain or a failed write can, on another thread) while the second is still in the reader's buffer.
        var (client, server) = await LoopbackSockets.ConnectAsync();
        using var peer = client;
        var handled = new ConcurrentQueue<uint>();
        Trunk acceptor = null!;
        acceptor = new Trunk(new NetworkStream(server, ownsSocket: true), opener: false, accept: async stream =>
        {
            await using var _ = stream;
            handled.Enqueue(stream.Id);
            if (stream.Id == 1)
            {
                acceptor.Close();
                return;
            }
            // The second stream's handler (a relay to its service) reads until its stream ends.
            var buffer = new byte[16];
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }, acceptFailed: _handlerFailures.Enqueue);
        var loop = acceptor.RunAsync(_stop.Token);
        var frames = new byte[2 * (Trunk.HeaderSize + 1)];
        for (var id = 1; id <= 2; id++)
        {
            var frame = frames.AsSpan((id - 1) * (Trunk.HeaderSize + 1));
            frame[0] = 1; // data
            frame[3] = 1; // one byte of payload
            frame[7] = (byte)id;
        }

        await peer.SendAsync(frames);

        // The trunk stops: no handler is left waiting on a stream nobody will ever reset.
        await loop.WaitAsync(Timeout);
        Assert.Equal(new uint[] { 1 }, handled.ToArray());
        Assert.Equal(0, acceptor.StreamCount);
    }
}
