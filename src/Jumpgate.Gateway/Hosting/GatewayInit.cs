using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Acme;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Store.Postgres;
using Jumpgate.Gateway.Store.Sqlite;

namespace Jumpgate.Gateway.Hosting;

/// <summary>Creates a gateway directory: gateway.yaml, a self-signed ECDSA P-256 certificate and an empty store.</summary>
internal static class GatewayInit
{
    /// <param name="store">A postgres:// URL that several gateways share, or null for a SQLite file (gateway.db) of this gateway's own.</param>
    /// <param name="acme">The acme: section's lines (<see cref="AcmeInit"/>), or null for a certificate from files.</param>
    /// <returns>The certificate's fingerprint; null with ACME, whose certificate comes at the first run and is trusted through its CA.</returns>
    public static Fingerprint? Run(string directory, IPEndPoint listen, string domain, string? certificatePath, string? keyPath, string? store = null, AcmeInit? acme = null)
    {
        if (acme is not null && (certificatePath is not null || keyPath is not null))
        {
            throw new ArgumentException("give --acme or --cert and --key, not both");
        }
        PostgresUrl? postgres = null;
        if (store is not null && !PostgresUrl.TryParse(store, out postgres, out var error))
        {
            throw new ArgumentException($"--store: {error}");
        }
        if (postgres is { HasPassword: false } && Environment.GetEnvironmentVariable("PGPASSWORD") is { Length: > 0 } password)
        {
            // The password came through the environment, off the command line; gateway.yaml keeps it (mode 0600).
            store = PostgresUrl.WithPassword(store!, password);
            PostgresUrl.TryParse(store, out postgres, out _);
        }
        Directory.CreateDirectory(directory);
        var config = Path.Combine(directory, GatewayOptions.FileName);
        if (File.Exists(config))
        {
            throw new InvalidOperationException($"{config} already exists; this directory holds a gateway already");
        }
        if (postgres is not null)
        {
            // Connects and migrates first, so a wrong URL or password fails init before it writes anything.
            PostgresStore.Open(postgres, TimeSpan.FromSeconds(2)).Dispose();
        }
        var certificateFile = Path.Combine(directory, "gateway.crt");
        var keyFile = Path.Combine(directory, "gateway.key");
        X509Certificate2? certificate = null;
        if (acme is not null)
        {
            // No certificate yet: `gateway run` obtains it from the CA.
        }
        else if (certificatePath is not null || keyPath is not null)
        {
            if (certificatePath is null || keyPath is null)
            {
                throw new ArgumentException("give both --cert and --key, or neither for a self-signed certificate");
            }
            certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            File.Copy(certificatePath, certificateFile);
            WriteSecret(keyFile, File.ReadAllText(keyPath));
        }
        else
        {
            certificate = CreateSelfSigned(listen, domain);
            File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
            WriteSecret(keyFile, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        }

        if (postgres is null)
        {
            // The store creates its file with mode 0600 itself, wherever gateway.yaml later moves it.
            SqliteStore.Open(Path.Combine(directory, "gateway.db")).Dispose();
        }

        var text = $"""
            # Jumpgate gateway. Paths are relative to this file.
            listen: {listen}
            domain: {domain}
            {(acme is null ? "certificate: gateway.crt\n" + "key: gateway.key" : acme.Yaml())}
            store: {(store is null ? "gateway.db" : "'" + store.Replace("'", "''", StringComparison.Ordinal) + "'")}
            # heartbeat_interval: 2s   # a dead agent is noticed after three missed pings
            # pool_size: 4             # trunks (connections carrying streams) each agent keeps
            # drain_timeout: 5s        # how long open streams may finish after Ctrl-C
            # direct_relay: splice     # direct streams' legs moved in the kernel; copy: through Kestrel's pipes

            """;
        if (postgres?.HasPassword == true)
        {
            // The store's password is in it: readable by its owner only, as the key is.
            WriteSecret(config, text);
        }
        else
        {
            File.WriteAllText(config, text);
        }
        return certificate is null ? null : Fingerprint.Of(certificate);
    }

    private static X509Certificate2 CreateSelfSigned(IPEndPoint listen, string domain)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={domain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        names.AddDnsName("*." + domain);
        if (!listen.Address.Equals(IPAddress.Any) && !listen.Address.Equals(IPAddress.IPv6Any))
        {
            names.AddIpAddress(listen.Address);
        }
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(5));
    }

    /// <summary>Writes a file readable by its owner only (mode 0600) from its creation, before any secret is in it.</summary>
    private static void WriteSecret(string path, string text)
    {
        using var writer = new StreamWriter(PrivateFile.CreateNew(path));
        writer.Write(text);
    }
}

/// <summary>What `gateway init --acme EMAIL …` puts in gateway.yaml's acme: section; <see cref="AcmeOptions"/> checks it when the file is read.</summary>
internal sealed record AcmeInit(string Email, string? Directory, string? Challenge, string? HttpListen, string? DnsServer, string? DnsZone, string? DnsKeyName, string? DnsKeyFile)
{
    public string Yaml()
    {
        var lines = new List<string> { "acme:", $"  email: {Quote(Email)}" };
        lines.Add(Directory is null ? "  # directory: https://acme-staging-v02.api.letsencrypt.org/directory   # Let's Encrypt's staging CA, for a first try" : $"  directory: {Quote(Directory)}");
        lines.Add($"  challenge: {Challenge ?? "http-01"}");
        if (Challenge == "dns-01")
        {
            lines.Add("  dns:");
            lines.Add("    provider: rfc2136");
            lines.Add($"    server: {Quote(DnsServer ?? "")}");
            lines.Add($"    zone: {Quote(DnsZone ?? "")}");
            lines.Add($"    key_name: {Quote(DnsKeyName ?? "")}");
            lines.Add($"    key_file: {Quote(DnsKeyFile ?? "")}");
        }
        else
        {
            lines.Add(HttpListen is null ? "  # http_listen: 0.0.0.0:80   # where the CA's HTTP-01 requests arrive" : $"  http_listen: {HttpListen}");
        }
        lines.Add("  # renew_before: 30d");
        return string.Join("\n", lines);
    }

    private static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
}
