using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Jumpgate.Core.Security;

/// <summary>TLS settings shared by every Jumpgate endpoint: TLS 1.3 preferred, 1.2 the minimum, AES-128-GCM first.</summary>
internal static class TlsDefaults
{
    public const SslProtocols Protocols = SslProtocols.Tls13 | SslProtocols.Tls12;

    /// <summary>
    /// One shared policy (a new one per handshake cost 0.4 ms each).
    /// AES-128-GCM first: every byte is encrypted twice on its way through the gateway and
    /// AES-128 (10 rounds per block) is cheaper than AES-256 (14) (docs/decisions.md,
    /// "AES-128-GCM on tunnel legs; the gateway keeps one TLS context per connection").
    /// </summary>
    public static CipherSuitesPolicy CipherSuites { get; } = new(
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]);

    /// <summary>
    /// For a process whose only TLS peer is a pinned gateway (`jumpgate proxy`, `forward`, an
    /// agent): .NET builds a chain against the system's CA store before it asks the pin. Loading
    /// that store cost `jumpgate proxy` 50–60 ms before its first byte, and searching it cost the
    /// forwarder and the agent 1.3 ms of CPU per new stream (each stream's replacement connection
    /// is a handshake). A pinned certificate is judged by its fingerprint alone, so this process's
    /// OpenSSL is pointed at no CA locations. Only this process's environment changes.
    /// </summary>
    public static void SkipSystemTrustStore()
    {
        // OpenSSL reads the C environment, which Environment.SetEnvironmentVariable does not change on Unix.
        _ = SetNativeEnvironment("SSL_CERT_FILE", "/dev/null", 1);
        _ = SetNativeEnvironment("SSL_CERT_DIR", "/dev/null", 1);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetNativeEnvironment(string name, string value, int overwrite);

    /// <summary>Client options that pin the gateway's certificate when a fingerprint is given, and validate it normally otherwise.</summary>
    /// <param name="onMismatch">Told the fingerprint presented when it is not the pinned one.</param>
    /// <param name="onUntrusted">Without a pin: told why the system's CA store refused the certificate.</param>
    public static SslClientAuthenticationOptions ClientOptions(string targetHost, Fingerprint? pinned, Action<string>? onMismatch = null, Action<SslPolicyErrors>? onUntrusted = null)
    {
        return new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = Protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (pinned is null)
                {
                    if (errors != SslPolicyErrors.None)
                    {
                        onUntrusted?.Invoke(errors);
                    }
                    return errors == SslPolicyErrors.None;
                }
                if (pinned.Matches(certificate))
                {
                    return true;
                }
                onMismatch?.Invoke(certificate is null ? "none" : Fingerprint.Of(certificate).ToString());
                return false;
            },
            CipherSuitesPolicy = CipherSuites,
        };
    }
}
