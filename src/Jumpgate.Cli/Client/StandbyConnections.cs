using System.Net.Security;
using System.Threading.Channels;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Cli.Client;

/// <summary>
/// A few connections to the gateway, already past TCP, TLS and authentication, so that a new
/// stream through `forward` costs one round trip instead of a handshake (what the agent's pool
/// does on the other leg). A spare found dead (the gateway restarted) is replaced by a fresh dial.
/// </summary>
internal sealed class StandbyConnections(GatewayEndpoint gateway, string token, int spares = 2) : IAsyncDisposable
{
    private readonly Channel<SslStream> _ready = Channel.CreateBounded<SslStream>(spares);
    private readonly CancellationTokenSource _stop = new();
    private int _dialing;

    /// <summary>Opens a stream to <paramref name="host"/>:<paramref name="service"/>; throws <see cref="GatewayException"/> with the gateway's reason.</summary>
    public async Task<Stream> OpenAsync(string host, string service, CancellationToken cancellationToken)
    {
        Refill();
        var request = new OpenRequest { Host = host, Service = service };
        while (_ready.Reader.TryRead(out var spare))
        {
            Refill();
            try
            {
                await Frame.WriteAsync(spare, request, ProtocolJson.Default.OpenRequest, cancellationToken);
                var reply = await Frame.ReadAsync(spare, ProtocolJson.Default.Reply, cancellationToken);
                if (reply.Ok)
                {
                    return spare;
                }
                await spare.DisposeAsync();
                throw new GatewayException(reply.Error ?? "the gateway refused the connection", refused: true);
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or ObjectDisposedException)
            {
                // A stale spare: the gateway went away since it was dialled. Try the next, then a fresh dial.
                await spare.DisposeAsync();
            }
        }
        var hello = new Hello { Type = HelloType.Connect, Token = token, Host = host, Service = service };
        return (await GatewayDialer.HandshakeAsync(gateway, hello, cancellationToken)).Stream;
    }

    /// <summary>Dials spares in the background until <c>spares</c> are ready or being dialled.</summary>
    private void Refill()
    {
        while (_ready.Reader.Count + Volatile.Read(ref _dialing) < spares && !_stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _dialing);
            _ = DialAsync();
        }
    }

    private async Task DialAsync()
    {
        await Task.Yield();
        try
        {
            var hello = new Hello { Type = HelloType.Connect, Token = token };
            var (spare, _) = await GatewayDialer.HandshakeAsync(gateway, hello, _stop.Token);
            if (!_ready.Writer.TryWrite(spare))
            {
                await spare.DisposeAsync();
            }
        }
        catch (Exception e) when (e is GatewayException or OperationCanceledException or IOException)
        {
            // No spare this time; a stream then dials its own connection, and reports any error itself.
        }
        finally
        {
            Interlocked.Decrement(ref _dialing);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var spare))
        {
            await spare.DisposeAsync();
        }
    }
}
