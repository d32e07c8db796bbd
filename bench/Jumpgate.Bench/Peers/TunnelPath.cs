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
    public const string SshLAes = "ssh -L (aes128-gcm)";
    public const string SshR = "ssh -R -N";
    public const string SshRAes = "ssh -R -N (aes128-gcm)";
    public const string SshRPty = "ssh -R -tt";
    public const string SshJ = "ssh -J";
    public const string SshJAes = "ssh -J (aes128-gcm)";
    public const string SocatTlsBothLegs = "3 socat relays in Jumpgate's shape, TLS on both legs (C, AES-128-GCM; reference only)";
    public const string SocatTlsEndToEnd = "3 socat relays, TLS end to end, the middle one plain (C, AES-128-GCM; reference only)";
    public const string Jumpgate = "**Jumpgate**";
    public const string JumpgateDirect = "**Jumpgate `forward --direct`** (the gateway relays ciphertext)";
}
