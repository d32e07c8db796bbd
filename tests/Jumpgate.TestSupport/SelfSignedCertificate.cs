using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Jumpgate.TestSupport;

/// <summary>Throw-away certificates for loopback HTTPS peers (the gateway makes its own with `gateway init`).</summary>
public static class SelfSignedCertificate
{
    /// <summary>An ECDSA P-256 certificate for <paramref name="dnsNames"/> (the first is also the subject), valid for a day.</summary>
    public static X509Certificate2 Create(params string[] dnsNames)
    {
        ArgumentOutOfRangeException.ThrowIfZero(dnsNames.Length);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsNames[0]}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
        {
            names.AddDnsName(name);
        }
        request.CertificateExtensions.Add(names.Build());
        // Back-dated a little so a peer whose clock is a second behind does not call it "not yet valid".
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }
}
