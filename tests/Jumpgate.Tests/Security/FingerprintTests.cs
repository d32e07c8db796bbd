using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Jumpgate.Core.Security;
using Xunit;

namespace Jumpgate.Tests.Security;

public sealed class FingerprintTests
{
    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    [Fact]
    public void IsWrittenAsOpenSshWritesKeyFingerprints()
    {
        using var certificate = SelfSigned("gateway");
        var expected = "SHA256:" + Convert.ToBase64String(SHA256.HashData(certificate.RawData)).TrimEnd('=');

        Assert.Equal(expected, Fingerprint.Of(certificate).ToString());
        Assert.Equal(50, expected.Length);
    }

    [Fact]
    public void ParsesWhatItPrints()
    {
        using var certificate = SelfSigned("gateway");
        var fingerprint = Fingerprint.Of(certificate);
        var text = fingerprint.ToString();

        Assert.Equal(fingerprint, Fingerprint.Parse(text));
        Assert.Equal(fingerprint.GetHashCode(), Fingerprint.Parse(text).GetHashCode());
        Assert.Equal(fingerprint, Fingerprint.Parse("  " + text + "\n"));
        Assert.Equal(fingerprint, Fingerprint.Parse("sha256:" + text["SHA256:".Length..]));
        Assert.Equal(fingerprint, Fingerprint.Parse(text["SHA256:".Length..]));
        Assert.Equal(fingerprint, Fingerprint.Parse(text + "="));
        Assert.Equal(text, Fingerprint.Parse(text).ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("SHA256:")]
    [InlineData("SHA256:abc")]
    [InlineData("SHA256:not base64 at all, not even close!!!!!")]
    [InlineData("MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48")]
    [InlineData("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF")] // 42 characters: one short
    [InlineData("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUAA")] // too long
    [InlineData("SHA256:ODHCHQh1tcbBAzZRbMiLNXq1J4fE0yXn8wa62YoAqxGgiRqMwvDhJI2tMr7Fhp1q")] // a SHA-384 length
    public void RefusesJunk(string? text)
    {
        Assert.False(Fingerprint.TryParse(text, out _));
        if (text is not null)
        {
            var error = Assert.Throws<FormatException>(() => Fingerprint.Parse(text));
            Assert.Contains("jumpgate gateway fingerprint", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MatchesItsOwnCertificateOnly()
    {
        using var gateway = SelfSigned("gateway");
        using var impostor = SelfSigned("gateway");
        var pinned = Fingerprint.Parse(Fingerprint.Of(gateway).ToString());

        Assert.True(pinned.Matches(gateway));
        Assert.False(pinned.Matches(impostor));
        Assert.False(pinned.Matches(null));
        Assert.NotEqual(pinned, Fingerprint.Of(impostor));
    }
}
