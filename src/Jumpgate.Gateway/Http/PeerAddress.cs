using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Http;

/// <summary>How an HTTP request's peer is named in logs and audit events: its address and port.</summary>
internal static class PeerAddress
{
    public static string? Of(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } address ? new System.Net.IPEndPoint(address, http.Connection.RemotePort).ToString() : null;
}
