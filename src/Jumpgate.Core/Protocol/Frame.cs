using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Jumpgate.Core.Protocol;

/// <summary>
/// The tunnel's only framing: a 2-byte big-endian length and that many bytes of UTF-8 JSON.
/// Frames are used only to set a connection up; after that the connection carries raw bytes.
/// </summary>
internal static class Frame
{
    /// <summary>Four bytes that open every tunnel connection, so the gateway tells it apart from HTTP on the same port.</summary>
    public static ReadOnlySpan<byte> Preface => "JGT1"u8;

    /// <summary>Large enough for an agent announcing a few hundred hosts; small enough that garbage costs little.</summary>
    public const int MaxPayload = 32 * 1024;

    public static byte[] Encode<T>(T message, JsonTypeInfo<T> type)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(message, type);
        if (payload.Length > MaxPayload)
        {
            throw new ProtocolException($"frame of {payload.Length} bytes exceeds the limit of {MaxPayload}");
        }
        var frame = new byte[2 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)payload.Length);
        payload.CopyTo(frame, 2);
        return frame;
    }

    public static T Decode<T>(ReadOnlySpan<byte> payload, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, type) ?? throw new ProtocolException("empty frame");
        }
        catch (JsonException)
        {
            // The parser's message quotes the input; a peer's garbage (or a token) must not reach a log.
            throw new ProtocolException($"malformed {type.Type.Name} frame");
        }
    }

    public static async ValueTask WriteAsync<T>(Stream stream, T message, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encode(message, type), cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    public static async ValueTask<T> ReadAsync<T>(Stream stream, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        var header = new byte[2];
        await stream.ReadExactlyAsync(header, cancellationToken);
        var length = ValidateLength(BinaryPrimitives.ReadUInt16BigEndian(header));
        var payload = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await stream.ReadExactlyAsync(payload.AsMemory(0, length), cancellationToken);
            return Decode<T>(payload.AsSpan(0, length), type);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
    }

    /// <summary>Reads one frame from a pipe, consuming exactly its bytes and nothing after it.</summary>
    public static async ValueTask<T> ReadAsync<T>(PipeReader reader, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            bool complete;
            byte[] payload;
            try
            {
                complete = TryRead(ref buffer, out payload);
            }
            catch (ProtocolException)
            {
                reader.AdvanceTo(buffer.Start);
                throw;
            }
            if (complete)
            {
                try
                {
                    return Decode(payload, type);
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start);
                }
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                throw new EndOfStreamException("the peer closed the connection before a whole frame arrived");
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Takes one whole frame off the front of <paramref name="buffer"/> if it is there.</summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out byte[] payload)
    {
        payload = [];
        if (buffer.Length < 2)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[2];
        buffer.Slice(0, 2).CopyTo(header);
        var length = ValidateLength(BinaryPrimitives.ReadUInt16BigEndian(header));
        if (buffer.Length < 2 + length)
        {
            return false;
        }
        payload = buffer.Slice(2, length).ToArray();
        buffer = buffer.Slice(2 + length);
        return true;
    }

    private static int ValidateLength(int length) => length is > 0 and <= MaxPayload
        ? length
        : throw new ProtocolException($"frame length {length} is outside 1..{MaxPayload}");
}

/// <summary>A peer broke the tunnel protocol. The message is safe to log: it never quotes the peer's bytes.</summary>
internal sealed class ProtocolException(string message) : Exception(message);
