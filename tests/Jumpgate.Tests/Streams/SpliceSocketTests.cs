using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.Streams;

/// <summary>Splice over real loopback TCP, copying through a buffer.</summary>
public sealed class SpliceSocketCopyTests(ITestOutputHelper output) : SpliceSocketTests(output, inKernel: false);

/// <summary>Splice over real loopback TCP, moving the bytes in the kernel with splice(2): the same tests must pass.</summary>
public sealed class SpliceSocketKernelTests(ITestOutputHelper output) : SpliceSocketTests(output, inKernel: true);

/// <summary>Splice over real loopback TCP (<see cref="SplicedSockets"/>), in each of its modes.</summary>
public abstract class SpliceSocketTests(ITestOutputHelper output, bool inKernel) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = SplicedSockets.Timeout;

    private SplicedSockets _pair = null!;

    public async Task InitializeAsync() => _pair = await SplicedSockets.StartAsync((pair, cancel) => Splice.RunAsync(pair.First, pair.Second, cancel, mode: inKernel ? SpliceMode.Kernel : SpliceMode.Copy));

    /// <summary>Sizes on either side of the kernel pipe's 64 KiB and of the copy buffer's 128 KiB, and a few that straddle several of each.</summary>
    public static TheoryData<int> BoundarySizes => new() { 1, 4095, 4096, 65535, 65536, 65537, 131071, 131072, 131073, 3 * 65536 + 17, 1_000_003 };

    [Theory]
    [MemberData(nameof(BoundarySizes))]
    public async Task MovesRandomBytesOfEverySizeBothWaysAtOnceIntact(int size)
    {
        var leftData = RandomNumberGenerator.GetBytes(size);
        var rightData = RandomNumberGenerator.GetBytes(size);

        var leftReceives = LoopbackSockets.ReadToEndAsync(_pair.Left);
        var rightReceives = LoopbackSockets.ReadToEndAsync(_pair.Right);
        await Task.WhenAll(SendInOneGoAndEndAsync(_pair.Left, leftData), SendInOneGoAndEndAsync(_pair.Right, rightData)).WaitAsync(Timeout);

        Assert.Equal(leftData, await rightReceives.WaitAsync(Timeout));
        Assert.Equal(rightData, await leftReceives.WaitAsync(Timeout));
        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, size, size), await _pair.Splice.WaitAsync(Timeout));
    }

    public async Task DisposeAsync() => await _pair.DisposeAsync();

    [Fact]
    public async Task MovesEightMebibytesEachWayIntact()
    {
        const int size = 8 * 1024 * 1024;
        var leftData = RandomNumberGenerator.GetBytes(size);
        var rightData = RandomNumberGenerator.GetBytes(size);

        var leftReceives = LoopbackSockets.ReadToEndAsync(_pair.Left);
        var rightReceives = LoopbackSockets.ReadToEndAsync(_pair.Right);
        await Task.WhenAll(SendAndEndAsync(_pair.Left, leftData), SendAndEndAsync(_pair.Right, rightData)).WaitAsync(Timeout);

        var atRight = await rightReceives.WaitAsync(Timeout);
        var atLeft = await leftReceives.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(leftData), SHA256.HashData(atRight));
        Assert.Equal(SHA256.HashData(rightData), SHA256.HashData(atLeft));

        var result = await _pair.Splice.WaitAsync(Timeout);
        output.WriteLine($"{result}");
        Assert.Equal(SpliceOutcome.Completed, result.Outcome);
        Assert.Equal(size, result.ToService);
        Assert.Equal(size, result.ToUser);
        Assert.Null(result.Error);
    }

    [Fact]
    public async Task PassesEndOfStreamOnWhileTheOtherDirectionCarriesOn()
    {
        await _pair.Left.SendAsync("hello"u8.ToArray());
        _pair.Left.Shutdown(SocketShutdown.Send);

        // The right end sees the data and then end of stream, as if the left end were directly connected.
        Assert.Equal("hello"u8.ToArray(), await LoopbackSockets.ReadToEndAsync(_pair.Right).WaitAsync(Timeout));
        Assert.False(_pair.Splice.IsCompleted, "the splice ended although the right end has not finished sending");

        await _pair.Right.SendAsync("world, still talking"u8.ToArray());
        Assert.Equal("world, still talking", Encoding.ASCII.GetString(await LoopbackSockets.ReadExactlyAsync(_pair.Left, 20).WaitAsync(Timeout)));
        _pair.Right.Shutdown(SocketShutdown.Send);
        Assert.Empty(await LoopbackSockets.ReadToEndAsync(_pair.Left).WaitAsync(Timeout));

        var result = await _pair.Splice.WaitAsync(Timeout);
        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, 5, 20), result);
    }

    [Fact]
    public async Task PassesEndOfStreamOnFromTheSecondSideToo()
    {
        _pair.Right.Shutdown(SocketShutdown.Send);
        Assert.Empty(await LoopbackSockets.ReadToEndAsync(_pair.Left).WaitAsync(Timeout));

        await _pair.Left.SendAsync("late reply"u8.ToArray());
        Assert.Equal("late reply", Encoding.ASCII.GetString(await LoopbackSockets.ReadExactlyAsync(_pair.Right, 10).WaitAsync(Timeout)));
        _pair.Left.Shutdown(SocketShutdown.Send);

        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, 10, 0), await _pair.Splice.WaitAsync(Timeout));
    }

    [Fact]
    public async Task AResetOnTheFirstSideIsBlamedOnTheFirstSide()
    {
        await _pair.Left.SendAsync("abc"u8.ToArray());
        Assert.Equal("abc"u8.ToArray(), await LoopbackSockets.ReadExactlyAsync(_pair.Right, 3).WaitAsync(Timeout));

        LoopbackSockets.Reset(_pair.Left);

        var result = await _pair.Splice.WaitAsync(Timeout);
        output.WriteLine($"{result.Outcome}: {result.Error?.GetType().Name}: {result.Error?.Message}");
        Assert.Equal(SpliceOutcome.UserSideFailed, result.Outcome);
        Assert.Equal(3, result.ToService);
        Assert.IsAssignableFrom<IOException>(result.Error);
    }

    [Fact]
    public async Task AResetOnTheSecondSideIsBlamedOnTheSecondSide()
    {
        await _pair.Right.SendAsync("xyz!"u8.ToArray());
        Assert.Equal("xyz!"u8.ToArray(), await LoopbackSockets.ReadExactlyAsync(_pair.Left, 4).WaitAsync(Timeout));

        LoopbackSockets.Reset(_pair.Right);

        var result = await _pair.Splice.WaitAsync(Timeout);
        output.WriteLine($"{result.Outcome}: {result.Error?.GetType().Name}: {result.Error?.Message}");
        Assert.Equal(SpliceOutcome.ServiceSideFailed, result.Outcome);
        Assert.Equal(4, result.ToUser);
        Assert.IsAssignableFrom<IOException>(result.Error);
    }

    [Fact]
    public async Task AResetWhileTheOtherSideIsStillSendingEndsTheSplice()
    {
        // The left end keeps sending; the right end vanishes mid-transfer.
        using var stopSending = new CancellationTokenSource();
        var sending = KeepSendingAsync(_pair.Left, stopSending.Token);
        await LoopbackSockets.ReadExactlyAsync(_pair.Right, 64 * 1024).WaitAsync(Timeout);

        LoopbackSockets.Reset(_pair.Right);
        var result = await _pair.Splice.WaitAsync(Timeout);

        await stopSending.CancelAsync();
        await sending.WaitAsync(Timeout);
        output.WriteLine($"{result.Outcome} after {result.ToService} bytes: {result.Error?.Message}");
        Assert.Equal(SpliceOutcome.ServiceSideFailed, result.Outcome);
        Assert.True(result.ToService >= 64 * 1024);
    }

    [Fact]
    public async Task CancellingStopsAnIdleSplice()
    {
        await _pair.CancelAsync();

        var result = await _pair.Splice.WaitAsync(Timeout);

        Assert.Equal(SpliceOutcome.Canceled, result.Outcome);
    }

    private static async Task SendInOneGoAndEndAsync(Socket socket, byte[] data)
    {
        await socket.SendAsync(data);
        socket.Shutdown(SocketShutdown.Send);
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
