using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.Streams;

/// <summary>TLS half-closed by one end while the other end is still sending, over real loopback TCP, as a relay does it.</summary>
public sealed class TlsStreamTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = Signals.Timeout(20);

    [Fact]
    public async Task HalfClosesWhileTheOtherDirectionIsStillSendingWithoutLosingAByte()
    {
        // Before the gate, about 1 round in 200 broke: a decrypt failed ("bad record mac"), a close_notify was
        // swallowed so its reader waited forever, or glibc aborted on a corrupted heap. Bounded in count and time.
        const int rounds = 1500;
        var budget = Stopwatch.StartNew();
        using var tls = new LoopbackTls();
        var payload = RandomNumberGenerator.GetBytes(128 * 1024);
        var done = 0;
        for (; done < rounds && budget.Elapsed < TimeSpan.FromSeconds(60); done++)
        {
            await RoundAsync(tls, payload, done);
        }
        output.WriteLine($"{done} rounds in {budget.Elapsed.TotalSeconds:0.0} s");
        Assert.True(done >= 300, $"only {done} rounds ran within the time bound");
    }

    [Fact]
    public async Task ACloseNotifyStuckBehindAPeerThatDoesNotReadLeavesThisEndReading()
    {
        // A peer that sends everything before it reads: if the stuck close_notify kept the gate, this end
        // would stop reading, the peer would never finish sending, and both would wait for ever.
        using var tls = new LoopbackTls();
        var (clientSocket, serverSocket) = await LoopbackSockets.ConnectAsync();
        var stalling = new StallingStream(new NetworkStream(serverSocket, ownsSocket: true));
        await using var server = TlsStream.Over(stalling);
        await using var client = TlsStream.Over(new NetworkStream(clientSocket, ownsSocket: true));
        await tls.ShakeHandsAsync(server, client);

        stalling.StallSends();
        var serverReads = ReadToEndAsync(server);
        var serverEnds = server.CloseOutputAsync().AsTask();
        await stalling.Stalled.WaitAsync(Timeout);
        var payload = RandomNumberGenerator.GetBytes(64 * 1024);
        await client.WriteAsync(payload).AsTask().WaitAsync(Timeout);
        await client.CloseOutputAsync().AsTask().WaitAsync(Timeout);

        Assert.Equal(payload, await serverReads.WaitAsync(Timeout));
        Assert.False(serverEnds.IsCompleted, "the close_notify went out although its send was held back");
        stalling.Resume();
        await serverEnds.WaitAsync(Timeout);
        Assert.Empty(await ReadToEndAsync(client).WaitAsync(Timeout));
    }

    private static async Task RoundAsync(LoopbackTls tls, byte[] payload, int round)
    {
        var (connectedClient, connectedServer) = await tls.ConnectAsync();
        await using var server = connectedServer;
        await using var client = connectedClient;

        // The server has nothing to send and ends its side at once, while it reads all the client sends.
        var serverReads = ReadToEndAsync(server);
        var serverEnds = Task.Run(async () => await server.CloseOutputAsync());
        var clientSends = Task.Run(async () =>
        {
            for (var at = 0; at < payload.Length; at += 16 * 1024)
            {
                await client.WriteAsync(payload.AsMemory(at, 16 * 1024));
            }
            await client.CloseOutputAsync();
        });
        var clientReads = ReadToEndAsync(client);

        await Task.WhenAll(serverEnds, clientSends).WaitAsync(Timeout);
        Assert.True(Enumerable.SequenceEqual(payload, await serverReads.WaitAsync(Timeout)), $"round {round}: the server did not get the client's bytes intact");
        Assert.Empty(await clientReads.WaitAsync(Timeout));
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, read);
            if (received.Length > 1024 * 1024)
            {
                throw new InvalidOperationException("more bytes arrived than were sent");
            }
        }
        return received.ToArray();
    }

    /// <summary>A transport whose sends can be held back, as behind a peer that has stopped reading.</summary>
    private sealed class StallingStream(Stream inner) : ConnectionStream
    {
        private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _stalling;

        public Task Stalled => _stalled.Task;

        public void StallSends() => _stalling = true;

        public void Resume() => _resume.TrySetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_stalling)
            {
                _stalled.TrySetResult();
                await _resume.Task.WaitAsync(cancellationToken);
            }
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask CloseOutputAsync() => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

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
