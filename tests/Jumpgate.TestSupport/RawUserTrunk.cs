using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Jumpgate.TestSupport;

/// <summary>
/// A user trunk spoken by hand (docs/protocol.md, "Trunks"): the `user-trunk` hello, then trunk
/// frames written and read byte for byte, so a test can send what `jumpgate forward` never would
/// (streams that never finish their request, floods of new ids) and see every frame the gateway answers.
/// </summary>
public sealed class RawUserTrunk : IAsyncDisposable
{
    public const byte Data = 1;
    public const byte Fin = 2;
    public const byte Reset = 3;
    public const byte Credit = 4;

    private readonly TunnelClient _client;
    private readonly byte[] _header = new byte[8];

    private RawUserTrunk(TunnelClient client)
    {
        _client = client;
    }

    public TunnelClient Client => _client;

    public Stream Stream => _client.Stream;

    /// <summary>Dials the gateway and sends the user-trunk hello; <see cref="TunnelClient.Ok"/> on <see cref="Client"/> says whether it was accepted.</summary>
    public static async Task<RawUserTrunk> OpenAsync(string gatewayUrl, string token, TimeSpan timeout, string source = "127.0.0.1") =>
        new(await TunnelClient.HelloAsync(gatewayUrl, $$"""{"type":"user-trunk","token":{{JsonSerializer.Serialize(token)}}}""", timeout, source));

    /// <summary>One frame: the 8-byte header and its payload.</summary>
    public static byte[] Frame(byte type, uint id, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[8 + payload.Length];
        frame[0] = type;
        frame[1] = (byte)(payload.Length >> 16);
        frame[2] = (byte)(payload.Length >> 8);
        frame[3] = (byte)payload.Length;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), id);
        payload.CopyTo(frame.AsSpan(8));
        return frame;
    }

    /// <summary>A stream's request ({"host","service"} in a 2-byte-length frame) as the data frame that opens stream <paramref name="id"/>.</summary>
    public static byte[] OpenFrame(uint id, string host, string service)
    {
        var json = Encoding.UTF8.GetBytes($$"""{"host":"{{host}}","service":"{{service}}"}""");
        var request = new byte[2 + json.Length];
        BinaryPrimitives.WriteUInt16BigEndian(request, (ushort)json.Length);
        json.CopyTo(request.AsSpan(2));
        return Frame(Data, id, request);
    }

    /// <summary>Reads the next frame; null when the gateway closed the connection.</summary>
    public async Task<(byte Type, uint Id, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Stream.ReadExactlyAsync(_header, cancellationToken);
            var payload = new byte[_header[1] << 16 | _header[2] << 8 | _header[3]];
            await Stream.ReadExactlyAsync(payload, cancellationToken);
            return (_header[0], BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(4)), payload);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return null;
        }
    }

    /// <summary>Reads frames until stream <paramref name="id"/>'s answer (the first data frame for it, a set-up frame) arrives; null if the trunk closed first or the stream was reset without one.</summary>
    public async Task<JsonElement?> ReadAnswerAsync(uint id, CancellationToken cancellationToken)
    {
        while (await ReadFrameAsync(cancellationToken) is { } frame)
        {
            if (frame.Id != id)
            {
                continue;
            }
            if (frame.Type == Reset)
            {
                return null;
            }
            if (frame.Type == Data)
            {
                return JsonDocument.Parse(frame.Payload.AsMemory(2)).RootElement.Clone();
            }
        }
        return null;
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
