using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// Splice over in-memory pipes, as the gateway splices the two Kestrel connections of a stream:
/// the test plays the user at the first side and the agent at the second.
/// </summary>
public sealed class SplicePipeTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = Signals.Timeout(30);

    /// <summary>Bounds every read loop: no test sends more.</summary>
    private const int MaxRead = 64 * 1024 * 1024;

    private readonly DuplexPipePair _first = new();
    private readonly DuplexPipePair _second = new();
    private readonly CancellationTokenSource _cancel = new();
    private Task<SpliceResult> _splice = null!;

    private IDuplexPipe User => _first.Application;

    private IDuplexPipe Agent => _second.Application;

    public Task InitializeAsync()
    {
        _splice = Splice.RunAsync(_first.Transport, _second.Transport, _cancel.Token);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cancel.CancelAsync();
        await _splice.WaitAsync(Timeout);
        _cancel.Dispose();
    }

    [Fact]
    public async Task MovesEightMebibytesEachWayIntact()
    {
        const int size = 8 * 1024 * 1024;
        var userData = RandomNumberGenerator.GetBytes(size);
        var agentData = RandomNumberGenerator.GetBytes(size);

        var atAgent = ReadToEndAsync(Agent.Input);
        var atUser = ReadToEndAsync(User.Input);
        await Task.WhenAll(WriteAndCompleteAsync(User.Output, userData), WriteAndCompleteAsync(Agent.Output, agentData)).WaitAsync(Timeout);

        Assert.Equal(SHA256.HashData(userData), SHA256.HashData(await atAgent.WaitAsync(Timeout)));
        Assert.Equal(SHA256.HashData(agentData), SHA256.HashData(await atUser.WaitAsync(Timeout)));
        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, size, size), await _splice.WaitAsync(Timeout));
    }

    [Fact]
    public async Task PassesEndOfStreamOnWhileTheOtherDirectionCarriesOn()
    {
        await User.Output.WriteAsync("request"u8.ToArray());
        await User.Output.CompleteAsync();

        Assert.Equal("request"u8.ToArray(), await ReadToEndAsync(Agent.Input).WaitAsync(Timeout));
        Assert.False(_splice.IsCompleted, "the splice ended although the agent has not finished sending");

        await Agent.Output.WriteAsync("response"u8.ToArray());
        await Agent.Output.CompleteAsync();
        Assert.Equal("response"u8.ToArray(), await ReadToEndAsync(User.Input).WaitAsync(Timeout));

        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, 7, 8), await _splice.WaitAsync(Timeout));
    }

    [Fact]
    public async Task AFailureOnTheFirstSideIsBlamedOnTheFirstSide()
    {
        await User.Output.WriteAsync("abc"u8.ToArray());
        Assert.Equal("abc"u8.ToArray(), await ReadExactlyAsync(Agent.Input, 3).WaitAsync(Timeout));

        await User.Output.CompleteAsync(new IOException("connection reset by peer"));

        var result = await _splice.WaitAsync(Timeout);
        Assert.Equal(SpliceOutcome.FirstFailed, result.Outcome);
        Assert.Equal(3, result.FirstToSecond);
        Assert.Equal("connection reset by peer", result.Error?.Message);
    }

    [Fact]
    public async Task AFailureOnTheSecondSideIsBlamedOnTheSecondSide()
    {
        await Agent.Output.CompleteAsync(new IOException("connection reset by peer"));

        var result = await _splice.WaitAsync(Timeout);

        Assert.Equal(SpliceOutcome.SecondFailed, result.Outcome);
        Assert.IsType<IOException>(result.Error);
    }

    [Fact]
    public async Task APeerThatStopsReadingIsBlamed()
    {
        await Agent.Input.CompleteAsync();

        await User.Output.WriteAsync("nobody is listening"u8.ToArray());

        var result = await _splice.WaitAsync(Timeout);
        Assert.Equal(SpliceOutcome.SecondFailed, result.Outcome);
    }

    [Fact]
    public async Task CancellingStopsAnIdleSplice()
    {
        await _cancel.CancelAsync();

        Assert.Equal(SpliceOutcome.Canceled, (await _splice.WaitAsync(Timeout)).Outcome);
    }

    private static async Task WriteAndCompleteAsync(PipeWriter writer, byte[] data)
    {
        for (var at = 0; at < data.Length;)
        {
            var length = Math.Min(data.Length - at, 1 + (at % 200_000));
            await writer.WriteAsync(data.AsMemory(at, length));
            at += length;
        }
        await writer.CompleteAsync();
    }

    private static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        using var received = new MemoryStream();
        while (received.Length <= MaxRead)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return received.ToArray();
            }
        }
        throw new InvalidOperationException($"more than {MaxRead} bytes arrived; the test sends less");
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count)
    {
        var result = await reader.ReadAtLeastAsync(count);
        var bytes = result.Buffer.Slice(0, count).ToArray();
        reader.AdvanceTo(result.Buffer.GetPosition(count));
        return bytes;
    }
}
