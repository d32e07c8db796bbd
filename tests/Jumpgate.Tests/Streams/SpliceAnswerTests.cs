using System.Net.Sockets;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// A splice that starts before the second side has answered (a stream opened without waiting a
/// round trip), over real loopback TCP: <c>left ⇄ [first ⇄ splice ⇄ second] ⇄ right</c>. Here the
/// right end's answer is three bytes, "ok\n" or "no\n", as the tunnel's answer frame is its first bytes.
/// </summary>
public sealed class SpliceAnswerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = Signals.Timeout(30);

    private readonly CancellationTokenSource _cancel = new();
    private Socket _left = null!;
    private Socket _right = null!;
    private NetworkStream _first = null!;
    private NetworkStream _second = null!;
    private Task<SpliceResult> _splice = null!;

    public async Task InitializeAsync()
    {
        var (left, first) = await LoopbackSockets.ConnectAsync();
        var (second, right) = await LoopbackSockets.ConnectAsync();
        (_left, _right) = (left, right);
        _first = new NetworkStream(first, ownsSocket: true);
        _second = new NetworkStream(second, ownsSocket: true);
        _splice = Splice.RunAsync(_first, _second, ReadAnswerAsync, _cancel.Token);
    }

    private async Task ReadAnswerAsync(CancellationToken cancellationToken)
    {
        var answer = new byte[3];
        await _second.ReadExactlyAsync(answer, cancellationToken);
        if (!answer.AsSpan().SequenceEqual("ok\n"u8))
        {
            throw new InvalidDataException("refused");
        }
    }

    public async Task DisposeAsync()
    {
        await _cancel.CancelAsync();
        await _splice.WaitAsync(Timeout);
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        _left.Dispose();
        _right.Dispose();
        _cancel.Dispose();
    }

    [Fact]
    public async Task TheFirstSidesBytesGoOutBeforeTheAnswerAndTheAnswerItselfNeverComesBack()
    {
        await _left.SendAsync("hello"u8.ToArray());
        // Nothing has been answered yet, and the right end already has the bytes.
        Assert.Equal("hello"u8.ToArray(), await LoopbackSockets.ReadExactlyAsync(_right, 5).WaitAsync(Timeout));

        await _right.SendAsync("ok\nworld"u8.ToArray());
        _right.Shutdown(SocketShutdown.Send);
        Assert.Equal("world"u8.ToArray(), await LoopbackSockets.ReadToEndAsync(_left).WaitAsync(Timeout));

        _left.Shutdown(SocketShutdown.Send);
        var result = await _splice.WaitAsync(Timeout);
        Assert.Equal(SpliceOutcome.Completed, result.Outcome);
        Assert.Equal(5, result.FirstToSecond);
        Assert.Equal(5, result.SecondToFirst);
    }

    [Fact]
    public async Task ARefusalEndsTheSpliceAsTheSecondSidesFailureWithItsReason()
    {
        await _left.SendAsync("hello"u8.ToArray());
        await _right.SendAsync("no\nsecret"u8.ToArray());

        // The left end is still open and silent; the refusal alone ends the splice.
        var result = await _splice.WaitAsync(Timeout);
        Assert.Equal(SpliceOutcome.SecondFailed, result.Outcome);
        Assert.Equal("refused", Assert.IsType<InvalidDataException>(result.Error).Message);
        Assert.Equal(0, result.SecondToFirst);

        // What followed the refusal never reached the left end.
        await _first.DisposeAsync();
        Assert.Empty(await LoopbackSockets.ReadToEndAsync(_left).WaitAsync(Timeout));
    }
}
