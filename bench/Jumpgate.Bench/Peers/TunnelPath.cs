namespace Jumpgate.Bench.Peers;

/// <summary>
/// One way from the client to the services: loopback ports that lead, through this path's
/// relay, to the iperf3 server (bulk), the in-process echo server (latency, memory) and, where
/// the path carries it, the HTTP upstream. Null where the path does not offer that service.
/// </summary>
internal sealed record TunnelPath(string Name, int EchoPort, int? SinkPort, int? WebPort = null, string? Note = null)
{
    public override string ToString() => Name;
}

/// <summary>The names rows and ratios refer to.</summary>
internal static class PathNames
{
    public const string Direct = "direct";
    public const string Socat = "socat relay";
    public const string SshL = "ssh -L";
    public const string SshJ = "ssh -J";
    public const string SocatTlsBothLegs = "3 socat relays in the trunk path's shape, TLS on both legs (C, AES-128-GCM; reference only)";
    public const string SocatTlsEndToEnd = "3 socat relays, TLS end to end, the middle one plain (C in the default path's shape, AES-128-GCM)";

    /// <summary>The judged row: what users run, `forward` with no path option (a stream in its direct session, docs/protocol.md "Direct sessions").</summary>
    public const string Jumpgate = "**Jumpgate**";
    public const string JumpgateTrunk = "Jumpgate `forward --trunk` (reference only: the stream inside the gateway's TLS on both sides)";
}
