using System.Net.Sockets;
using Jumpgate.Agent.Configuration;
using Jumpgate.Core.Streams;

namespace Jumpgate.Agent.Tunnel;

/// <summary>Connects to a service inside the agent's network. Only services declared in agent.yaml can be reached.</summary>
internal static class ServiceDialer
{
    public static async Task<(SocketStream? Stream, string Address, string? Error)> ConnectAsync(
        AgentOptions options, string host, string service, CancellationToken cancellationToken)
    {
        if (!options.Hosts.TryGetValue(host, out var target) || !target.Services.TryGetValue(service, out var port))
        {
            return (null, "", $"this agent does not serve {host}:{service}");
        }
        var address = $"{target.Address}:{port.Port}";
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(target.Address, port.Port, timeout.Token);
            return (new SocketStream(socket), address, null);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            return (null, address, $"{address}: {e.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            return (null, address, $"{address}: no answer within {options.ConnectTimeout.TotalSeconds:0.#} s");
        }
    }
}
