using System.Net;
using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// The <c>acme:</c> section of gateway.yaml: the gateway obtains and renews its certificate from an
/// ACME certificate authority (docs/certificates.md). Absent: the certificate comes from files.
/// </summary>
internal sealed record AcmeOptions
{
    public const string Section = "acme";

    /// <summary>Let's Encrypt's production directory, the default.</summary>
    public static readonly Uri LetsEncrypt = new("https://acme-v02.api.letsencrypt.org/directory");

    /// <summary>The account's contact; the CA writes here about expiring certificates and policy changes. Required.</summary>
    public required string Email { get; init; }

    /// <summary>The CA's directory URL. Default Let's Encrypt's production one.</summary>
    public Uri Directory { get; init; } = LetsEncrypt;

    /// <summary>
    /// A PEM file of CA certificates to trust, instead of the system store, for the directory's own HTTPS
    /// (a private CA such as step-ca, or a test server). Default none: the system store.
    /// </summary>
    public string? DirectoryCaFile { get; init; }

    /// <summary><c>http-01</c> (default: nothing to set up but port 80) or <c>dns-01</c>, which also gets the wildcard for the service subdomains.</summary>
    public AcmeChallengeKind Challenge { get; init; } = AcmeChallengeKind.Http01;

    /// <summary>Where the plain-HTTP listener for HTTP-01 answers. Default 0.0.0.0:80, the port the CA asks on.</summary>
    public IPEndPoint HttpListen { get; init; } = new(IPAddress.Any, 80);

    /// <summary>The DNS provider for DNS-01 (the <c>dns:</c> mapping); required with it.</summary>
    public Rfc2136Options? Dns { get; init; }

    /// <summary>
    /// Renew when less than this remains. Default 30 d, what Let's Encrypt advises for its 90-day
    /// certificates; a certificate shorter-lived than three times this renews with a third of its life left.
    /// </summary>
    public TimeSpan RenewBefore { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Where the account key and the certificates live: <c>acme/</c> in the gateway's directory.</summary>
    public required string StateDirectory { get; init; }

    public static AcmeOptions? Parse(YamlFile file, YamlMappingNode root, string gatewayDirectory)
    {
        if (file.Mapping(root, Section, Section) is not { } section)
        {
            return null;
        }
        file.RejectUnknown(section, Section, "email", "directory", "directory_ca", "challenge", "http_listen", "dns", "renew_before");
        var email = file.String(section, "email", $"{Section}.email", required: true) ?? "";
        if (email.Length > 0 && (!email.Contains('@', StringComparison.Ordinal) || email.Contains(' ', StringComparison.Ordinal)))
        {
            file.Error(YamlFile.Get(section, "email"), $"{Section}.email", "expected an e-mail address such as admin@example.org");
        }
        var directory = LetsEncrypt;
        if (file.String(section, "directory", $"{Section}.directory") is { } directoryText
            && (!Uri.TryCreate(directoryText, UriKind.Absolute, out directory!) || directory.Scheme != Uri.UriSchemeHttps))
        {
            file.Error(YamlFile.Get(section, "directory"), $"{Section}.directory", "expected the CA's https:// directory URL, such as https://acme-v02.api.letsencrypt.org/directory");
            directory = LetsEncrypt;
        }
        var challenge = AcmeChallengeKind.Http01;
        switch (file.String(section, "challenge", $"{Section}.challenge"))
        {
            case null or "http-01":
                break;
            case "dns-01":
                challenge = AcmeChallengeKind.Dns01;
                break;
            default:
                file.Error(YamlFile.Get(section, "challenge"), $"{Section}.challenge", "expected http-01 or dns-01");
                break;
        }
        IPEndPoint httpListen = new(IPAddress.Any, 80);
        if (file.String(section, "http_listen", $"{Section}.http_listen") is { } listenText && !Configuration.GatewayOptions.TryParseEndpoint(listenText, out httpListen))
        {
            file.Error(YamlFile.Get(section, "http_listen"), $"{Section}.http_listen", "expected an address and port such as 0.0.0.0:80");
        }
        var dnsSection = file.Mapping(section, "dns", $"{Section}.dns", required: challenge == AcmeChallengeKind.Dns01);
        var dns = dnsSection is null ? null : Rfc2136Options.Parse(file, dnsSection, $"{Section}.dns");
        var renewBefore = file.Duration(section, "renew_before", $"{Section}.renew_before") ?? TimeSpan.FromDays(30);
        if (renewBefore <= TimeSpan.Zero)
        {
            file.Error(YamlFile.Get(section, "renew_before"), $"{Section}.renew_before", "must be longer than 0 s");
        }
        var caFile = file.String(section, "directory_ca", $"{Section}.directory_ca");
        return new AcmeOptions
        {
            Email = email,
            Directory = directory,
            DirectoryCaFile = caFile is null ? null : file.ResolvePath(caFile),
            Challenge = challenge,
            HttpListen = httpListen,
            Dns = dns,
            RenewBefore = renewBefore,
            StateDirectory = Path.Combine(Path.GetFullPath(gatewayDirectory), "acme"),
        };
    }
}

internal enum AcmeChallengeKind
{
    Http01,
    Dns01,
}

/// <summary>
/// <c>acme.dns</c>: RFC 2136 dynamic updates signed with TSIG (HMAC-SHA256), as BIND, Knot and
/// PowerDNS accept them.
/// </summary>
internal sealed record Rfc2136Options
{
    /// <summary>The primary server that takes updates, as address:port (port 53 when left out).</summary>
    public required IPEndPoint Server { get; init; }

    /// <summary>The zone the records go into, such as example.org.</summary>
    public required string Zone { get; init; }

    /// <summary>The TSIG key's name, as the server knows it.</summary>
    public required string KeyName { get; init; }

    /// <summary>A file holding the key's base64 secret: BIND's own key file (<c>tsig-keygen</c>'s output) or the bare secret.</summary>
    public required string KeyFile { get; init; }

    public static Rfc2136Options? Parse(YamlFile file, YamlMappingNode section, string prefix)
    {
        file.RejectUnknown(section, prefix, "provider", "server", "zone", "key_name", "key_file");
        var provider = file.String(section, "provider", $"{prefix}.provider", required: true);
        if (provider is not null && provider != "rfc2136")
        {
            file.Error(YamlFile.Get(section, "provider"), $"{prefix}.provider", "unknown DNS provider (known: rfc2136)");
        }
        var serverText = file.String(section, "server", $"{prefix}.server", required: true);
        IPEndPoint? server = null;
        if (serverText is not null)
        {
            if (IPAddress.TryParse(serverText, out var address))
            {
                server = new IPEndPoint(address, 53);
            }
            else if (!Configuration.GatewayOptions.TryParseEndpoint(serverText, out server!))
            {
                file.Error(YamlFile.Get(section, "server"), $"{prefix}.server", "expected the DNS server's address, with its port if not 53 (10.0.0.2 or 10.0.0.2:5353)");
            }
        }
        var zone = file.String(section, "zone", $"{prefix}.zone", required: true);
        var keyName = file.String(section, "key_name", $"{prefix}.key_name", required: true);
        var keyFile = file.String(section, "key_file", $"{prefix}.key_file", required: true);
        if (server is null || zone is null || keyName is null || keyFile is null)
        {
            return null;
        }
        return new Rfc2136Options { Server = server, Zone = zone.TrimEnd('.'), KeyName = keyName.TrimEnd('.'), KeyFile = file.ResolvePath(keyFile) };
    }
}
