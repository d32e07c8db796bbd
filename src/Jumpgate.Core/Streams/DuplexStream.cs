using System.Runtime.InteropServices;
using Jumpgate.Core.Streams.Kernel;
using Microsoft.Win32.SafeHandles;

namespace Jumpgate.Core.Streams;

/// <summary>
/// Two one-way streams (stdin and stdout) presented as one duplex stream. Reads honour
/// cancellation even though a console read cannot be interrupted: the blocked read is left
/// behind, which is fine because the process is about to exit. Given their descriptors, a
/// <see cref="SpliceMode.Kernel"/> splice moves their bytes in the kernel instead.
/// </summary>
internal sealed class DuplexStream(Stream input, Stream output, SafeHandle? readDescriptor = null, SafeHandle? writeDescriptor = null) : ConnectionStream
{
    /// <summary>
    /// stdin and stdout. With <paramref name="inKernel"/> (for a leg with nothing above its socket,
    /// which a kernel splice serves alone) each also offers its descriptor where it is a pipe or a
    /// socket, as OpenSSH's ProxyCommand gives, switched to non-blocking; a terminal or a file is
    /// copied as before.
    /// </summary>
    public static DuplexStream Standard(bool inKernel) => inKernel
        ? new(Console.OpenStandardInput(), Console.OpenStandardOutput(), Spliceable(0), Spliceable(1))
        : new(Console.OpenStandardInput(), Console.OpenStandardOutput());

    /// <summary>The descriptor, made non-blocking, if splice(2) and epoll can take it (a pipe or a socket); else null.</summary>
    internal static SafeFileHandle? Spliceable(int fd)
    {
        var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        if (target is null || !(target.StartsWith("pipe:", StringComparison.Ordinal) || target.StartsWith("socket:", StringComparison.Ordinal)))
        {
            return null;
        }
        var flags = Libc.fcntl(fd, Libc.F_GETFL, 0);
        return flags >= 0 && Libc.fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) >= 0 ? new SafeFileHandle(fd, ownsHandle: false) : null;
    }

    public override SafeHandle? ReadDescriptor => readDescriptor;

    public override SafeHandle? WriteDescriptor => writeDescriptor;

    /// <summary>Passes end of stream on by closing the output half, as a socket's shutdown(SHUT_WR) would.</summary>
    public override ValueTask CloseOutputAsync() => output.DisposeAsync();

    /// <summary>A console read cannot be woken by a zero-byte read: it returns at once.</summary>
    public override bool ZeroByteReadWaits => false;

    public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.IsEmpty ? 0 : await input.ReadAsync(buffer, CancellationToken.None).AsTask().WaitAsync(cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        output.WriteAsync(buffer, cancellationToken);

    public override void Flush() => output.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);
}
