using Jumpgate.Cli.Client;
using Jumpgate.Core.Streams;
using Jumpgate.TestSupport;

namespace Jumpgate.Tests.InProcess;

/// <summary>How a user's stream reaches the gateway.</summary>
public enum UserPath
{
    /// <summary>A connection of its own (`jumpgate proxy`).</summary>
    Connect,

    /// <summary>A stream on a user trunk (`jumpgate forward`, through the CLI's <see cref="GatewayTrunk"/>).</summary>
    Trunk,
}

/// <summary>
/// One user's open stream to a service, as `jumpgate proxy` or `forward` holds it: bytes both ways,
/// and an end of sending (TLS close_notify, or a trunk stream's fin) that leaves receiving open.
/// </summary>
internal sealed class UserStream : IAsyncDisposable
{
    private readonly GatewayTrunk? _trunk;

    private UserStream(ConnectionStream stream, GatewayTrunk? trunk)
    {
        Stream = stream;
        _trunk = trunk;
    }

    public ConnectionStream Stream { get; }

    /// <summary>Opens a stream to <paramref name="host"/>:<paramref name="service"/>; a refusal is a GatewayException in the user's words.</summary>
    public static async Task<UserStream> OpenAsync(GatewayInProcess gateway, UserPath path, string host, string service, string? token = null)
    {
        if (path == UserPath.Connect)
        {
            return new UserStream(await gateway.ConnectAsync(host, service, token), null);
        }
        var trunk = gateway.OpenTrunk(token);
        try
        {
            using var deadline = new CancellationTokenSource(Signals.Timeout(15));
            var stream = await trunk.StartAsync(host, service, deadline.Token);
            var opened = new UserStream(stream, trunk);
            try
            {
                await trunk.ReadAnswerAsync(stream, deadline.Token);
            }
            catch
            {
                await opened.DisposeAsync();
                throw;
            }
            return opened;
        }
        catch
        {
            await trunk.DisposeAsync();
            throw;
        }
    }

    /// <summary>The user is done sending; what the service still sends keeps coming.</summary>
    public async Task EndSendingAsync()
    {
        await Stream.CloseOutputAsync();
    }

    public async Task WriteAsync(byte[] bytes)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        await Stream.WriteAsync(bytes, deadline.Token);
        await Stream.FlushAsync(deadline.Token);
    }

    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        var bytes = new byte[count];
        await Stream.ReadExactlyAsync(bytes, deadline.Token);
        return bytes;
    }

    /// <summary>Everything the service sends until it ends its side.</summary>
    public async Task<byte[]> ReadToEndAsync()
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        using var received = new MemoryStream();
        await Stream.CopyToAsync(received, deadline.Token);
        return received.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        if (_trunk is not null)
        {
            await _trunk.DisposeAsync();
        }
    }
}
