using System.Globalization;
using System.Net.Sockets;
using Jumpgate.Agent.Configuration;

namespace Jumpgate.Agent.Health;

/// <summary>One check of one service: a TCP connect, or an HTTP GET on a connection of its own. Returns null when it passed, else why not.</summary>
internal static class HealthProbe
{
    public static async Task<string?> CheckAsync(HttpClient http, HostTarget host, ServiceTarget service, CancellationToken cancellationToken)
    {
        var check = service.Health;
        var address = $"{host.Address}:{service.Port.ToString(CultureInfo.InvariantCulture)}";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(check.Timeout);
        try
        {
            if (check.HttpPath is not { } path)
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(host.Address, service.Port, timeout.Token);
                return null;
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{address}{path}");
            // A fresh connection each time, as a new stream would make: a kept-alive one can outlive the listener.
            request.Headers.ConnectionClose = true;
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            return status == check.Expect ? null : $"GET {path} answered {status}, expected {check.Expect}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"{address}: no answer within {check.Timeout.TotalSeconds:0.###} s";
        }
        catch (SocketException e)
        {
            return $"{address}: {e.Message}";
        }
        catch (HttpRequestException e)
        {
            return $"{address}: {(e.InnerException as SocketException)?.Message ?? e.Message}";
        }
    }
}
