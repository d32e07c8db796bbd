using System.Net.Sockets;
using System.Security.Cryptography;
using Jumpgate.Core.Streams;
using Jumpgate.Core.Streams.Kernel;
using Jumpgate.TestSupport;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Jumpgate.Tests.Streams;

/// <summary>`jumpgate proxy`'s shape copied through a buffer: stdin and stdout (real pipes, as OpenSSH's ProxyCommand gets) spliced to a real loopback socket.</summary>
public sealed class SpliceStdioCopyTests() : SpliceStdioTests(inKernel: false);

/// <summary>The same, moved in the kernel: splice(2) from the stdin pipe and into the stdout pipe.</summary>
public sealed class SpliceStdioKernelTests() : SpliceStdioTests(inKernel: true);

/// <summary><c>[stdin pipe, stdout pipe] ⇄ splice ⇄ socket ⇄ far end</c>, the test writing stdin, reading stdout and playing the far end.</summary>
public abstract class SpliceStdioTests(bool inKernel) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = Signals.Timeout(30);

    private readonly CancellationTokenSource _cancel = new();
    private FileStream _stdinWriter = null!;
    private FileStream _stdoutReader = null!;
    private DuplexStream _stdio = null!;
    private SocketStream _near = null!;
    private Socket _far = null!;
    private Task<SpliceResult> _splice = null!;

    public async Task InitializeAsync()
    {
        var (stdinRead, stdinWrite) = Pipe();
        var (stdoutRead, stdoutWrite) = Pipe();
        _stdinWriter = new FileStream(stdinWrite, FileAccess.Write, 1);
        _stdoutReader = new FileStream(stdoutRead, FileAccess.Read, 1);
        // As `proxy` does for a raw leg: the descriptors go non-blocking and are offered to the splice.
        var (readDescriptor, writeDescriptor) = inKernel
            ? (DuplexStream.Spliceable((int)stdinRead.DangerousGetHandle()), DuplexStream.Spliceable((int)stdoutWrite.DangerousGetHandle()))
            : (null, null);
        Assert.Equal(inKernel, readDescriptor is not null && writeDescriptor is not null);
        _stdio = new DuplexStream(new FileStream(stdinRead, FileAccess.Read, 1), new FileStream(stdoutWrite, FileAccess.Write, 1), readDescriptor, writeDescriptor);
        var (near, far) = await LoopbackSockets.ConnectAsync();
        (_near, _far) = (new SocketStream(near), far);
        _splice = Splice.RunAsync(_stdio, _near, _cancel.Token, mode: inKernel ? SpliceMode.Kernel : SpliceMode.Copy);
    }

    public async Task DisposeAsync()
    {
        await _cancel.CancelAsync();
        await _splice.WaitAsync(Timeout);
        await _stdinWriter.DisposeAsync();
        await _stdoutReader.DisposeAsync();
        await _stdio.DisposeAsync();
        await _near.DisposeAsync();
        _far.Dispose();
        _cancel.Dispose();
    }

    [Theory]
    [MemberData(nameof(SpliceSocketTests.BoundarySizes), MemberType = typeof(SpliceSocketTests))]
    public async Task MovesRandomBytesOfEverySizeBothWaysAtOnceIntact(int size)
    {
        var up = RandomNumberGenerator.GetBytes(size);
        var down = RandomNumberGenerator.GetBytes(size);

        var atFar = LoopbackSockets.ReadToEndAsync(_far);
        var atStdout = ReadToEndAsync(_stdoutReader);
        await Task.WhenAll(WriteAndCloseAsync(_stdinWriter, up), SendAndEndAsync(_far, down)).WaitAsync(Timeout);

        Assert.Equal(up, await atFar.WaitAsync(Timeout));
        Assert.Equal(down, await atStdout.WaitAsync(Timeout));
        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, size, size), await _splice.WaitAsync(Timeout));
    }

    [Fact]
    public async Task TheEndOfStdinReachesTheFarEndWhileItsAnswerStillComesBack()
    {
        await WriteAndCloseAsync(_stdinWriter, "request"u8.ToArray());
        Assert.Equal("request"u8.ToArray(), await LoopbackSockets.ReadToEndAsync(_far).WaitAsync(Timeout));
        Assert.False(_splice.IsCompleted, "the splice ended although the far end has not answered");

        await SendAndEndAsync(_far, "the answer, after the request ended"u8.ToArray());
        Assert.Equal("the answer, after the request ended"u8.ToArray(), await ReadToEndAsync(_stdoutReader).WaitAsync(Timeout));
        Assert.Equal(new SpliceResult(SpliceOutcome.Completed, 7, 35), await _splice.WaitAsync(Timeout));
    }

    private static unsafe (SafeFileHandle Read, SafeFileHandle Write) Pipe()
    {
        var fds = stackalloc int[2];
        Assert.Equal(0, Libc.pipe2(fds, Libc.O_CLOEXEC));
        return (new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
    }

    private static async Task WriteAndCloseAsync(FileStream stream, byte[] data)
    {
        await stream.WriteAsync(data);
        await stream.DisposeAsync();
    }

    private static async Task SendAndEndAsync(Socket socket, byte[] data)
    {
        await socket.SendAsync(data);
        socket.Shutdown(SocketShutdown.Send);
    }

    private static async Task<byte[]> ReadToEndAsync(FileStream stream)
    {
        using var received = new MemoryStream();
        // Bounded: no test sends more than a few mebibytes.
        var buffer = new byte[64 * 1024];
        for (int read; (read = await stream.ReadAsync(buffer)) > 0 && received.Length < 64 * 1024 * 1024;)
        {
            received.Write(buffer, 0, read);
        }
        return received.ToArray();
    }
}
