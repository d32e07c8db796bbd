using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// A throw-away certificate for the socat TLS relays, and an OpenSSL config that limits them to
/// TLS 1.3 with AES-128-GCM (what Jumpgate's legs negotiate), in a directory removed afterwards.
/// </summary>
internal sealed class TlsFiles : IDisposable
{
    private readonly string _directory;

    private TlsFiles(string directory)
    {
        _directory = directory;
    }

    /// <summary>The PEM file with the key and the certificate, as socat's cert= wants it.</summary>
    public string CertificateAndKey => Path.Combine(_directory, "relay.pem");

    public string OpenSslConfig => Path.Combine(_directory, "openssl.cnf");

    public static TlsFiles Create()
    {
        var files = new TlsFiles(Directory.CreateTempSubdirectory("jumpgate-bench-tls-").FullName);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=relay", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(files.CertificateAndKey, key.ExportPkcs8PrivateKeyPem() + "\n" + certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(files.OpenSslConfig, """
            openssl_conf = default_conf
            [default_conf]
            ssl_conf = ssl_sect
            [ssl_sect]
            system_default = system_default_sect
            [system_default_sect]
            MinProtocol = TLSv1.3
            Ciphersuites = TLS_AES_128_GCM_SHA256

            """);
        return files;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
