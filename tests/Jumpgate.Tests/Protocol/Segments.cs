using System.Buffers;

namespace Jumpgate.Tests.Protocol;

/// <summary>Builds a <see cref="ReadOnlySequence{T}"/> out of several segments, as a pipe hands over bytes that arrived in pieces.</summary>
internal static class Segments
{
    public static ReadOnlySequence<byte> Of(params byte[][] pieces)
    {
        if (pieces.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        var first = new Segment(pieces[0], 0);
        var last = first;
        foreach (var piece in pieces.Skip(1))
        {
            last = last.Append(piece);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Cuts <paramref name="bytes"/> at random places into pieces of 1 to <paramref name="maxPiece"/> bytes.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, Random random, int maxPiece)
    {
        var pieces = new List<byte[]>();
        for (var at = 0; at < bytes.Length;)
        {
            var length = Math.Min(bytes.Length - at, random.Next(1, maxPiece + 1));
            pieces.Add(bytes[at..(at + length)]);
            at += length;
        }
        return pieces.Count == 0 ? ReadOnlySequence<byte>.Empty : Of([.. pieces]);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
