using System.Net.Security;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// The certificate this agent presents on direct streams: a key pair made when the process starts,
/// never written anywhere. The agent names its fingerprint in its hello, over its pinned TLS to the
/// gateway, which passes it to the user's end of each direct stream.
/// </summary>
internal static class DirectCertificate
{
    private static readonly Lazy<(SslStreamCertificateContext Context, string Fingerprint)> Made = new(() =>
    {
        var certificate = DirectLeg.CreateAgentCertificate();
        return (SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true), Core.Security.Fingerprint.Of(certificate).ToString());
    });

    public static SslStreamCertificateContext Context => Made.Value.Context;

    public static string Fingerprint => Made.Value.Fingerprint;
}
