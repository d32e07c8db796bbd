using System.Net.Sockets;
using Jumpgate.Core.Streams;
using Xunit;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// A relay that gathers what has arrived into one write (towards a trunk stream) must not hold the
/// bytes it has while it waits for more. A socket's zero-byte read can complete on a readiness event
/// left over from bytes already read: a new stream's 64-byte echo then sat in the agent's buffer
/// until the user gave up (one stream in a few tens of thousands, under load).
/// </summary>
public sealed class SpliceGatherTests
{
    [Fact]
    public async Task PassesOnWhatItReadWhenAZeroByteReadCompletesWithNothingToRead()
    {
        var (serviceClient, serviceEnd) = await LoopbackSockets.ConnectAsync();
        var (userClient, userEnd) = await LoopbackSockets.ConnectAsync();
        using var _ = serviceClient;
        using var __ = userClient;
        await using var service = new LeftoverReadiness(new SocketStream(serviceEnd));
        await using var user = new Gathering(new SocketStream(userEnd));
        using var stop = new CancellationTokenSource();
        var splice = Splice.RunAsync(user, service, stop.Token);

        var echo = new byte[64];
        Random.Shared.NextBytes(echo);
        await serviceClient.SendAsync(echo);
        Assert.Equal(echo, await LoopbackSockets.ReadExactlyAsync(userClient, echo.Length).WaitAsync(SplicedSockets.Timeout));

        await stop.CancelAsync();
        await splice.WaitAsync(SplicedSockets.Timeout);
    }

    /// <summary>A socket whose zero-byte reads always complete at once, as one does after a leftover readiness event.</summary>
    private sealed class LeftoverReadiness(SocketStream socket) : Wrapped(socket)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            buffer.IsEmpty ? ValueTask.FromResult(0) : base.ReadAsync(buffer, cancellationToken);
    }

    /// <summary>A socket written as a trunk stream is: the relay gathers what has arrived into each write.</summary>
    private sealed class Gathering(SocketStream socket) : Wrapped(socket)
    {
        public override bool GathersWrites => true;
    }

    private abstract class Wrapped(SocketStream inner) : ConnectionStream
    {
        public override bool ReadsAtOnce => inner.ReadsAtOnce;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override void Flush()
        {
        }

        public override ValueTask CloseOutputAsync() => inner.CloseOutputAsync();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
