using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Jumpgate.TestSupport;

/// <summary>
/// A bare tunnel client speaking the wire protocol by hand (TLS, the JGT1 preface, one hello
/// frame), so a test can connect from a chosen source address (127.0.0.2 is loopback too) and
/// see the gateway's answer exactly. After an ok reply the connection carries the stream's bytes.
/// </summary>
public sealed class TunnelClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;

    private TunnelClient(TcpClient tcp, SslStream stream, JsonElement reply)
    {
        _tcp = tcp;
        Stream = stream;
        Reply = reply;
    }

    public SslStream Stream { get; }

    public JsonElement Reply { get; }

    public bool Ok => Reply.TryGetProperty("ok", out var ok) && ok.GetBoolean();

    public string? Error => Reply.TryGetProperty("error", out var error) ? error.GetString() : null;

    /// <summary>Sends a connect hello for <paramref name="host"/>:<paramref name="service"/> from <paramref name="source"/> and reads the answer.</summary>
    public static Task<TunnelClient> ConnectAsync(string gatewayUrl, string token, string host, string service, TimeSpan timeout, string source = "127.0.0.1") =>
        HelloAsync(gatewayUrl, $$"""{"type":"connect","token":{{JsonSerializer.Serialize(token)}},"host":"{{host}}","service":"{{service}}"}""", timeout, source);

    public static async Task<TunnelClient> HelloAsync(string gatewayUrl, string helloJson, TimeSpan timeout, string source = "127.0.0.1")
    {
        using var deadline = new CancellationTokenSource(timeout);
        var uri = new Uri(gatewayUrl);
        var tcp = new TcpClient(new IPEndPoint(IPAddress.Parse(source), 0));
        try
        {
            await tcp.ConnectAsync(IPAddress.Parse(uri.Host), uri.Port, deadline.Token);
            var ssl = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, deadline.Token);
            var body = Encoding.UTF8.GetBytes(helloJson);
            var frame = new byte[4 + 2 + body.Length];
            "JGT1"u8.CopyTo(frame);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(4), (ushort)body.Length);
            body.CopyTo(frame.AsSpan(6));
            await ssl.WriteAsync(frame, deadline.Token);
            var header = new byte[2];
            await ssl.ReadExactlyAsync(header, deadline.Token);
            var reply = new byte[BinaryPrimitives.ReadUInt16BigEndian(header)];
            await ssl.ReadExactlyAsync(reply, deadline.Token);
            return new TunnelClient(tcp, ssl, JsonDocument.Parse(reply).RootElement.Clone());
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the gateway ends the stream (end of stream or a reset); returns false if it is still open after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitClosedAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (await Stream.ReadAsync(buffer, deadline.Token) > 0)
            {
                // Bytes still in flight before the close; keep reading.
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _tcp.Dispose();
    }
}
