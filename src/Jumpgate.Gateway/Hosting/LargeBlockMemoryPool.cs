using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Jumpgate.Gateway.Hosting;

/// <summary>
/// Kestrel's socket transport receives into one pool block per read, and its default blocks are
/// 4 KiB: a bulk stream then costs one recv per 4 KiB on each of the gateway's two legs. Blocks
/// of 64 KiB let one recv take what the kernel has. Idle connections hold no block (Kestrel
/// waits for data before it rents one), so this costs memory only while bytes move.
/// </summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) =>
        Shared.Rent(minBufferSize <= BlockSize ? BlockSize : minBufferSize);

    protected override void Dispose(bool disposing)
    {
        // Blocks come from the shared array pool, which outlives any one pool.
    }

    public sealed class Factory : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
    }
}
