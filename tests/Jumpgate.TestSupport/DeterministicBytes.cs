using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Jumpgate.TestSupport;

/// <summary>
/// A reproducible stream of pseudo-random bytes (SplitMix64 over a counter): the upstream serves
/// it and a test computes the expected digest on its own, so gigabytes need no file on disk.
/// Random-looking data also keeps any compression on the path from flattering the figures.
/// </summary>
public static class DeterministicBytes
{
    /// <summary>The size of one generated block; every block but the last is whole.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>
    /// Fills <paramref name="destination"/> with the bytes at <paramref name="offset"/> of the
    /// stream for <paramref name="seed"/>. The offset must be a multiple of 8 (whole blocks are).
    /// </summary>
    public static void Fill(Span<byte> destination, long offset, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset % 8 != 0)
        {
            throw new ArgumentException("offset must be a multiple of 8", nameof(offset));
        }
        var counter = (ulong)(offset / 8);
        Span<byte> word = stackalloc byte[8];
        for (var i = 0; i < destination.Length; i += 8, counter++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(word, SplitMix64((ulong)seed + counter * 0x9E3779B97F4A7C15UL));
            word[..Math.Min(8, destination.Length - i)].CopyTo(destination[i..]);
        }
    }

    /// <summary>Writes <paramref name="count"/> bytes of the stream for <paramref name="seed"/>, one block at a time.</summary>
    public static async Task WriteAsync(Stream destination, long count, long seed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var buffer = new byte[BlockSize];
        for (long offset = 0; offset < count; offset += BlockSize)
        {
            var length = (int)Math.Min(BlockSize, count - offset);
            Fill(buffer.AsSpan(0, length), offset, seed);
            await destination.WriteAsync(buffer.AsMemory(0, length), cancellationToken);
        }
    }

    /// <summary>The lowercase hex SHA-256 of the first <paramref name="count"/> bytes for <paramref name="seed"/>, without a server.</summary>
    public static string Sha256(long count, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BlockSize];
        for (long offset = 0; offset < count; offset += BlockSize)
        {
            var length = (int)Math.Min(BlockSize, count - offset);
            Fill(buffer.AsSpan(0, length), offset, seed);
            hash.AppendData(buffer, 0, length);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
