using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// Debian's Pebble, Let's Encrypt's test ACME server, started by a test on free loopback ports with a
/// TLS certificate the test makes (<see cref="TlsCaFile"/>), resolving names through the test's DNS
/// server, validating HTTP-01 on <c>httpPort</c>; its issuing root (fresh each start) is <see cref="RootPem"/>.
/// </summary>
public sealed class PebbleServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/pebble";

    private readonly TempDirectory _dir;
    private readonly ChildProcess _process;

    private PebbleServer(TempDirectory dir, ChildProcess process, int port, string rootPem)
    {
        _dir = dir;
        _process = process;
        Directory = $"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/dir";
        RootPem = rootPem;
    }

    /// <summary>The ACME directory URL.</summary>
    public string Directory { get; }

    /// <summary>The certificate of Pebble's own HTTPS, for <c>acme.directory_ca</c>.</summary>
    public string TlsCaFile => _dir.File("tls.pem");

    /// <summary>The root that the certificates Pebble issues chain to, as a PEM file (for <c>openssl -CAfile</c>).</summary>
    public string RootFile => _dir.File("root.pem");

    public string RootPem { get; }

    public static bool Installed => File.Exists(Binary);

    /// <summary>
    /// Starts Pebble: it asks <paramref name="dnsPort"/> on 127.0.0.1 for every name it validates, looks for HTTP-01 answers on
    /// <paramref name="httpPort"/>, and issues certificates valid for <paramref name="validity"/> (its default: 5 years).
    /// With <paramref name="requireExternalAccount"/> it refuses every new account that an existing one does not vouch for (EAB), as some CAs do.
    /// </summary>
    public static async Task<PebbleServer> StartAsync(int dnsPort, int httpPort, ITestOutputHelper? output, TimeSpan? validity = null, bool requireExternalAccount = false)
    {
        if (!Installed)
        {
            throw new InvalidOperationException($"{Binary} is missing: install Debian's pebble (test.sh does)");
        }
        var dir = new TempDirectory("jg-pebble");
        try
        {
            using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                var request = new CertificateRequest("CN=pebble", key, HashAlgorithmName.SHA256);
                var names = new SubjectAlternativeNameBuilder();
                names.AddIpAddress(IPAddress.Loopback);
                request.CertificateExtensions.Add(names.Build());
                request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
                using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
                await File.WriteAllTextAsync(dir.File("tls.pem"), certificate.ExportCertificatePem());
                await File.WriteAllTextAsync(dir.File("tls.key"), key.ExportPkcs8PrivateKeyPem());
            }
            var port = Sshd.FreePort();
            var management = Sshd.FreePort();
            var seconds = (long)(validity ?? TimeSpan.FromDays(5 * 365)).TotalSeconds;
            await File.WriteAllTextAsync(dir.File("pebble.json"), $$"""
                {"pebble": {
                  "listenAddress": "127.0.0.1:{{port}}",
                  "managementListenAddress": "127.0.0.1:{{management}}",
                  "certificate": "{{dir.File("tls.pem")}}",
                  "privateKey": "{{dir.File("tls.key")}}",
                  "httpPort": {{httpPort}},
                  "tlsPort": {{Sshd.FreePort()}},
                  "ocspResponderURL": "",
                  "externalAccountBindingRequired": {{(requireExternalAccount ? "true" : "false")}},
                  "certificateValidityPeriod": {{seconds}}
                } }
                """);
            var process = ChildProcess.Start("pebble", Binary, ["-config", dir.File("pebble.json"), "-dnsserver", $"127.0.0.1:{dnsPort}"], output,
                new Dictionary<string, string>
                {
                    // No random waits before validating; Pebble still refuses 5 % of good nonces, which the client must retry.
                    ["PEBBLE_VA_NOSLEEP"] = "1",
                });
            try
            {
                await process.WaitForLineAsync("ACME directory available", Signals.Timeout(30));
                // Pebble logs both addresses before its goroutines bind them; a client that comes at once can be refused.
                foreach (var listening in new[] { port, management })
                {
                    if (!await Signals.UntilAsync(() => AcceptsAsync(listening), Signals.Timeout(10)))
                    {
                        throw new InvalidOperationException($"pebble logged its start but 127.0.0.1:{listening} accepts no connection");
                    }
                }
                using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
                using var http = new HttpClient(handler);
                var root = await http.GetStringAsync($"https://127.0.0.1:{management}/roots/0");
                await File.WriteAllTextAsync(dir.File("root.pem"), root);
                return new PebbleServer(dir, process, port, root);
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Stops Pebble now, as a CA that went away; its files stay until disposal.</summary>
    public async Task StopAsync()
    {
        if (!_process.Exited.IsCompleted)
        {
            _process.Signal(ChildProcess.SIGTERM);
            await _process.Exited.WaitAsync(Signals.Timeout(10));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _process.DisposeAsync();
        _dir.Dispose();
    }
}
