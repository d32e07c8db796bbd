using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// Splice over real loopback TCP: <c>left ⇄ [first ⇄ splice ⇄ second] ⇄ right</c>, where the test
/// plays the peers at the left and right ends.
/// </summary>
public sealed class SpliceSocketTests(ITestOutputHelper output) : IAsyncLifetime
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
        _splice = Splice.RunAsync(_first, _second, _cancel.Token);
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
    public async Task MovesEightMebibytesEachWayIntact()
    {
        const int size = 8 * 1024 * 1024;
        var leftData = RandomNumberGenerator.GetBytes(size);
        var rightData = RandomNumberGenerator.GetBytes(size);

        var leftReceives = LoopbackSockets.ReadToEndAsync(_left);
        var rightReceives = LoopbackSockets.ReadToEndAsync(_right);
        await Task.WhenAll(SendAndEndAsync(_left, leftData), SendAndEndAsync(_right, rightData)).WaitAsync(Timeout);

        var atRight = await rightReceives.WaitAsync(Timeout);
        var atLeft = await leftReceives.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(leftData), SHA256.HashData(atRight));
        Assert.Equal(SHA256.HashData(rightData), SHA256.HashData(atLeft));

        var result = await _splice.WaitAsync(Timeout);
        output.WriteLine($"{result}");
        Assert.Equal(SpliceOutcome.Completed, result.Outcome);
        Assert.Equal(size, result.FirstToSecond);
        Assert.Equal(size, result.SecondToFirst);
        Assert.Null(result.Error);
    }

    [Fact]
    public async Task PassesEndOfStreamOnWhileTheOtherDirectionCarriesOn()
    {
        await _left.SendAsync("hello"u8.ToArray());
        _left.Shutdown(SocketShutdown.Send);

        // The right end sees the data and then end of stream, as if the left end were directly connected.
        Assert.Equal("hello"u8.ToArray(), await LoopbackSockets.ReadToEndAsync(_right).WaitAsync(Timeout));
        Assert.False(_splice.IsCompleted, "the splice ended although the right end has not finished sending");

        await _right.SendAsync("world, still talking"u8.ToArray());
        Assert.Equal("world, still talking", Encoding.ASCII.GetString(await LoopbackSockets.ReadExactlyAsync(_left, 20).WaitAsync(Timeout)));
        _right.Shutdown(SocketShutdown.Send);
        Assert.Empty(await LoopbackSockets.ReadToEndAsync(_left).WaitAsync(Timeout));

        var result = await _splice.WaitAsync(Timeout);
        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, 5, 20), result);
    }

    [Fact]
    public async Task PassesEndOfStreamOnFromTheSecondSideToo()
    {
        _right.Shutdown(SocketShutdown.Send);
        Assert.Empty(await LoopbackSockets.ReadToEndAsync(_left).WaitAsync(Timeout));

        await _left.SendAsync("late reply"u8.ToArray());
        Assert.Equal("late reply", Encoding.ASCII.GetString(await LoopbackSockets.ReadExactlyAsync(_right, 10).WaitAsync(Timeout)));
        _left.Shutdown(SocketShutdown.Send);

        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, 10, 0), await _splice.WaitAsync(Timeout));
    }

    [Fact]
    public async Task AResetOnTheFirstSideIsBlamedOnTheFirstSide()
    {
        await _left.SendAsync("abc"u8.ToArray());
        Assert.Equal("abc"u8.ToArray(), await LoopbackSockets.ReadExactlyAsync(_right, 3).WaitAsync(Timeout));

        LoopbackSockets.Reset(_left);

        var result = await _splice.WaitAsync(Timeout);
        output.WriteLine($"{result.Outcome}: {result.Error?.GetType().Name}: {result.Error?.Message}");
        Assert.Equal(SpliceOutcome.FirstFailed, result.Outcome);
        Assert.Equal(3, result.FirstToSecond);
        Assert.IsAssignableFrom<IOException>(result.Error);
    }

    [Fact]
    public async Task AResetOnTheSecondSideIsBlamedOnTheSecondSide()
    {
        await _right.SendAsync("xyz!"u8.ToArray());
        Assert.Equal("xyz!"u8.ToArray(), await LoopbackSockets.ReadExactlyAsync(_left, 4).WaitAsync(Timeout));

        LoopbackSockets.Reset(_right);

        var result = await _splice.WaitAsync(Timeout);
        output.WriteLine($"{result.Outcome}: {result.Error?.GetType().Name}: {result.Error?.Message}");
        Assert.Equal(SpliceOutcome.SecondFailed, result.Outcome);
        Assert.Equal(4, result.SecondToFirst);
        Assert.IsAssignableFrom<IOException>(result.Error);
    }

    [Fact]
    public async Task AResetWhileTheOtherSideIsStillSendingEndsTheSplice()
    {
        // The left end keeps sending; the right end vanishes mid-transfer.
        using var stopSending = new CancellationTokenSource();
        var sending = KeepSendingAsync(_left, stopSending.Token);
        await LoopbackSockets.ReadExactlyAsync(_right, 64 * 1024).WaitAsync(Timeout);

        LoopbackSockets.Reset(_right);
        var result = await _splice.WaitAsync(Timeout);

        await stopSending.CancelAsync();
        await sending.WaitAsync(Timeout);
        output.WriteLine($"{result.Outcome} after {result.FirstToSecond} bytes: {result.Error?.Message}");
        Assert.Equal(SpliceOutcome.SecondFailed, result.Outcome);
        Assert.True(result.FirstToSecond >= 64 * 1024);
    }

    [Fact]
    public async Task CancellingStopsAnIdleSplice()
    {
        await _cancel.CancelAsync();

        var result = await _splice.WaitAsync(Timeout);

        Assert.Equal(SpliceOutcome.Canceled, result.Outcome);
    }

    private static async Task SendAndEndAsync(Socket socket, byte[] data)
    {
        // Several sends, so the splice sees the data arrive in pieces of assorted sizes.
        for (var at = 0; at < data.Length;)
        {
            var length = Math.Min(data.Length - at, 1 + (at % 300_000));
            at += await socket.SendAsync(data.AsMemory(at, length));
        }
        socket.Shutdown(SocketShutdown.Send);
    }

    private static async Task KeepSendingAsync(Socket socket, CancellationToken cancellationToken)
    {
        var chunk = new byte[16 * 1024];
        try
        {
            // Bounded: the splice ends as soon as the reset arrives, long before a gibibyte has moved.
            for (var sent = 0L; sent < 1L << 30 && !cancellationToken.IsCancellationRequested; sent += chunk.Length)
            {
                await socket.SendAsync(chunk, SocketFlags.None, cancellationToken);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // The splice gave up on the connection, or the test is done: either way the sender stops.
        }
    }
}
