using System.Security.Cryptography.X509Certificates;
using Jumpgate.Cli.Admin;
using Jumpgate.Cli.Commands;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.Acme;

/// <summary>
/// The gateway's certificate from a real ACME server: Debian's Pebble, resolving names through a real
/// BIND the test starts (which also takes DNS-01's dynamic updates), checked with openssl as a client
/// that trusts only Pebble's root.
/// </summary>
public sealed class AcmeCertificateTests(ITestOutputHelper output)
{
    private const string Zone = "acme.test";

    [Fact]
    public async Task ObtainsServesAndRenewsOverHttp01AndKeepsTheOldCertificateWhenTheCaFails()
    {
        await using var dns = await BindServer.StartAsync(Zone, output);
        var httpPort = Sshd.FreePort();
        // 36 s certificates: the window opens with a third of the life left, 24 s after issue.
        await using var pebble = await PebbleServer.StartAsync(dns.Port, httpPort, output, validity: TimeSpan.FromSeconds(36));
        await using var gateway = AcmeGateway.Create(output, Zone, $"""
            email: admin@{Zone}
            directory: {pebble.Directory}
            directory_ca: {pebble.TlsCaFile}
            http_listen: 127.0.0.1:{httpPort}
            """);
        await gateway.StartAsync();

        var first = await gateway.ProbeAsync(Zone, pebble.RootFile);
        Assert.True(first.Verified, first.Output);
        Assert.Contains(Zone, first.Leaf!.GetNameInfo(X509NameType.DnsName, forIssuer: false), StringComparison.Ordinal);
        foreach (var secret in new[] { "account.key", "certificate.key", "certificate.pem" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(gateway.Directory, "acme", secret)));
        }

        // Renewed in the running gateway: the next handshake gets the new certificate.
        X509Certificate2? renewed = null;
        Assert.True(await Signals.UntilAsync(async () =>
        {
            var probe = await gateway.ProbeAsync(Zone, pebble.RootFile);
            renewed = probe.Verified && probe.Leaf!.Thumbprint != first.Leaf.Thumbprint ? probe.Leaf : null;
            return renewed is not null;
        }, Signals.Timeout(90), TimeSpan.FromSeconds(1)), "the gateway did not serve a renewed certificate");
        await gateway.WaitForLogAsync("certificate renewed", Signals.Timeout(10));

        // The CA goes away: the next renewal fails, is logged, and the renewed certificate is still served.
        await pebble.StopAsync();
        var failure = await gateway.WaitForLogAsync("certificate renewal failed", Signals.Timeout(90));
        Assert.Contains("Connection refused", failure, StringComparison.Ordinal);
        var after = await gateway.ProbeAsync(Zone, pebble.RootFile);
        Assert.True(after.Verified, after.Output);
        Assert.Equal(renewed!.Thumbprint, after.Leaf!.Thumbprint);
        // `jumpgate status --dir` says so too.
        using var admin = new LocalAdmin(gateway.Directory);
        var status = (await admin.StatusAsync(CancellationToken.None)).Certificate!;
        Assert.Contains("Connection refused", status.RenewalFailure, StringComparison.Ordinal);
        Assert.Equal([Zone], status.Names);
        Assert.Contains("renewal FAILED", StatusCommands.Render(await admin.StatusAsync(CancellationToken.None), DateTimeOffset.UtcNow), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ObtainsTheWildcardOverDns01ThroughBindsDynamicUpdates()
    {
        await using var dns = await BindServer.StartAsync(Zone, output);
        await using var pebble = await PebbleServer.StartAsync(dns.Port, Sshd.FreePort(), output);
        await using var gateway = AcmeGateway.Create(output, Zone, $"""
            email: admin@{Zone}
            directory: {pebble.Directory}
            directory_ca: {pebble.TlsCaFile}
            challenge: dns-01
            dns:
              provider: rfc2136
              server: 127.0.0.1:{dns.Port}
              zone: {Zone}
              key_name: {BindServer.KeyName}
              key_file: {dns.KeyFile}
            """);
        await gateway.StartAsync();

        // The gateway's own name and a service's subdomain, from the one certificate.
        foreach (var name in new[] { Zone, $"jupyter--node1.{Zone}" })
        {
            var probe = await gateway.ProbeAsync(name, pebble.RootFile);
            Assert.True(probe.Verified, probe.Output);
        }
    }

    [Fact]
    public async Task ADirectoryThatRefusesTheAccountStopsTheGatewayWithTheCasReason()
    {
        await using var dns = await BindServer.StartAsync(Zone, output);
        var httpPort = Sshd.FreePort();
        await using var pebble = await PebbleServer.StartAsync(dns.Port, httpPort, output, requireExternalAccount: true);
        await using var gateway = AcmeGateway.Create(output, Zone, $"""
            email: admin@{Zone}
            directory: {pebble.Directory}
            directory_ca: {pebble.TlsCaFile}
            http_listen: 127.0.0.1:{httpPort}
            """);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(gateway.StartAsync);
        Assert.StartsWith("the gateway has no certificate: the CA refused /sign-me-up:", refused.Message, StringComparison.Ordinal);
        Assert.Contains("externalAccountRequired", refused.Message, StringComparison.Ordinal);
        // Nothing is left listening: the HTTP-01 port is free again.
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, httpPort);
        probe.Start();
    }

    [Fact]
    public async Task TheCliLogsInWithoutAFingerprintTrustingTheCaStoreAndAsksForOneFromASelfSignedGateway()
    {
        // "localhost": the one name that resolves to 127.0.0.1 for the CLI (through /etc/hosts) as for Pebble (through BIND).
        const string name = "localhost";
        await using var dns = await BindServer.StartAsync(name, output);
        var httpPort = Sshd.FreePort();
        await using var pebble = await PebbleServer.StartAsync(dns.Port, httpPort, output);
        await using var acme = AcmeGateway.Create(output, name, $"""
            email: admin@example.org
            directory: {pebble.Directory}
            directory_ca: {pebble.TlsCaFile}
            http_listen: 127.0.0.1:{httpPort}
            """);
        await acme.StartAsync();
        await using var selfSigned = AcmeGateway.Create(output, name, acmeYaml: null);
        await selfSigned.StartAsync();
        using var home = new TempDirectory("jg-acme-cli");

        var login = await acme.ClientAsync(home.Path, pebble.RootFile, "login", $"https://{name}:{acme.Port}", "--token", await acme.AddUserAsync("alice"));
        var list = await acme.ClientAsync(home.Path, pebble.RootFile, "ls");
        var refused = await selfSigned.ClientAsync(home.Path, pebble.RootFile, "login", $"https://{name}:{selfSigned.Port}", "--token", await selfSigned.AddUserAsync("bob"));

        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Contains("as alice", login.Stderr, StringComparison.Ordinal);
        Assert.Contains("\"fingerprint\": null", await File.ReadAllTextAsync(Path.Combine(home.Path, "jumpgate", "config.json")), StringComparison.Ordinal);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("no CA in this machine's store vouches for", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains($"jumpgate login https://{name}:{selfSigned.Port} --fingerprint", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", refused.Stderr, StringComparison.Ordinal);
    }
}
