using System.Buffers;
using System.IO.Pipelines;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// The first line each side of an SSH connection sends (RFC 4253 §4.2): <c>SSH-2.0-</c>, printable
/// US-ASCII, CR LF, at most 255 bytes. Plain legs pass nothing until both sides have sent one, so
/// no other protocol ever crosses them unencrypted (docs/protocol.md, "Plain legs").
/// </summary>
internal static class SshIdentification
{
    public const int MaxLength = 255;

    private static ReadOnlySpan<byte> Prefix => "SSH-2.0-"u8;

    internal enum Verdict
    {
        Incomplete,
        Valid,
        Invalid,
    }

    /// <summary>Judges what has arrived so far: a whole identification string (its length, CR LF included), not one, or not yet known.</summary>
    internal static Verdict Check(ReadOnlySequence<byte> buffer, out int length)
    {
        length = 0;
        Span<byte> head = stackalloc byte[MaxLength];
        var count = (int)Math.Min(buffer.Length, MaxLength);
        buffer.Slice(0, count).CopyTo(head);
        for (var i = 0; i < count; i++)
        {
            var b = head[i];
            if (i < Prefix.Length)
            {
                if (b != Prefix[i])
                {
                    return Verdict.Invalid;
                }
                continue;
            }
            if (b == (byte)'\r')
            {
                if (i == Prefix.Length)
                {
                    // No software version.
                    return Verdict.Invalid;
                }
                if (i + 1 == count)
                {
                    return count == MaxLength ? Verdict.Invalid : Verdict.Incomplete;
                }
                if (head[i + 1] != (byte)'\n')
                {
                    return Verdict.Invalid;
                }
                length = i + 2;
                return Verdict.Valid;
            }
            if (b is < 0x20 or > 0x7E)
            {
                return Verdict.Invalid;
            }
        }
        return count == MaxLength ? Verdict.Invalid : Verdict.Incomplete;
    }

    /// <summary>Takes the leg's identification string off its pipe, or throws <see cref="ProtocolException"/> (never quoting the peer's bytes).</summary>
    public static async Task<byte[]> ReadAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            switch (Check(buffer, out var length))
            {
                case Verdict.Valid:
                    var line = buffer.Slice(0, length).ToArray();
                    input.AdvanceTo(buffer.GetPosition(length));
                    return line;
                case Verdict.Invalid:
                    input.AdvanceTo(buffer.Start);
                    throw new ProtocolException("its first bytes are not an SSH identification string");
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start);
                throw new ProtocolException("it ended before a whole SSH identification string");
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
