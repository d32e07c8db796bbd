using System.Net.Sockets;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// A splice that starts before the second side has answered (a stream opened without waiting a
/// round trip), over real loopback TCP (<see cref="SplicedSockets"/>). Here the
/// right end's answer is three bytes, "ok\n" or "no\n", as the tunnel's answer frame is its first bytes.
/// </summary>
public sealed class SpliceAnswerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = SplicedSockets.Timeout;

    private SplicedSockets _pair = null!;

    public async Task InitializeAsync() => _pair = await SplicedSockets.StartAsync((pair, cancel) => Splice.RunAsync(pair.First, pair.Second, answer => ReadAnswerAsync(pair.Second, answer), cancel));

    public async Task DisposeAsync() => await _pair.DisposeAsync();

    private static async Task ReadAnswerAsync(Stream second, CancellationToken cancellationToken)
    {
        var answer = new byte[3];
        await second.ReadExactlyAsync(answer, cancellationToken);
        if (!answer.AsSpan().SequenceEqual("ok\n"u8))
        {
            throw new InvalidDataException("refused");
        }
    }

    [Fact]
    public async Task TheFirstSidesBytesGoOutBeforeTheAnswerAndTheAnswerItselfNeverComesBack()
    {
        await _pair.Left.SendAsync("hello"u8.ToArray());
        // Nothing has been answered yet, and the right end already has the bytes.
        Assert.Equal("hello"u8.ToArray(), await LoopbackSockets.ReadExactlyAsync(_pair.Right, 5).WaitAsync(Timeout));

        await _pair.Right.SendAsync("ok\nworld"u8.ToArray());
        _pair.Right.Shutdown(SocketShutdown.Send);
        Assert.Equal("world"u8.ToArray(), await LoopbackSockets.ReadToEndAsync(_pair.Left).WaitAsync(Timeout));

        _pair.Left.Shutdown(SocketShutdown.Send);
        var result = await _pair.Splice.WaitAsync(Timeout);
        Assert.Equal(SpliceOutcome.Completed, result.Outcome);
        Assert.Equal(5, result.ToService);
        Assert.Equal(5, result.ToUser);
    }

    [Fact]
    public async Task ARefusalEndsTheSpliceAsTheSecondSidesFailureWithItsReason()
    {
        await _pair.Left.SendAsync("hello"u8.ToArray());
        await _pair.Right.SendAsync("no\nsecret"u8.ToArray());

        // The left end is still open and silent; the refusal alone ends the splice.
        var result = await _pair.Splice.WaitAsync(Timeout);
        Assert.Equal(SpliceOutcome.ServiceSideFailed, result.Outcome);
        Assert.Equal("refused", Assert.IsType<InvalidDataException>(result.Error).Message);
        Assert.Equal(0, result.ToUser);

        // What followed the refusal never reached the left end.
        await _pair.First.DisposeAsync();
        Assert.Empty(await LoopbackSockets.ReadToEndAsync(_pair.Left).WaitAsync(Timeout));
    }
}
