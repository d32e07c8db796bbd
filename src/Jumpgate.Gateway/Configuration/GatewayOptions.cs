using System.Net;
using Jumpgate.Core.Config;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Acme;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Postgres;

namespace Jumpgate.Gateway.Configuration;

/// <summary>The gateway's settings, read from gateway.yaml in the gateway's directory.</summary>
internal sealed record GatewayOptions
{
    public const string FileName = "gateway.yaml";

    /// <summary>Where the one HTTPS port listens. Default 127.0.0.1:7443 so that a first run exposes nothing; use 0.0.0.0:443 in production.</summary>
    public required IPEndPoint Listen { get; init; }

    /// <summary>The gateway's DNS name; HTTP services are served on its subdomains. Default localhost, since *.localhost resolves to loopback.</summary>
    public string Domain { get; init; } = "localhost";

    /// <summary>PEM certificate (chain) and key. Default gateway.crt and gateway.key, which `gateway init` writes.</summary>
    public required string CertificatePath { get; init; }
    public required string KeyPath { get; init; }

    /// <summary>
    /// The store: a SQLite file (default gateway.db next to gateway.yaml; one gateway) or
    /// <c>postgres://user:password@host:port/db</c>, which several gateways share.
    /// </summary>
    public required StoreLocation Store { get; init; }

    /// <summary>How often each side of a control connection pings. Default 2 s: three missed pings (6 s) declare a peer dead, inside the 10 s the product promises.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many trunks (connections that carry streams) each agent keeps to the gateway. Default 4: streams spread over them, so busy streams use several cores.</summary>
    public int PoolSize { get; init; } = 4;

    /// <summary>How long open streams may run on after Ctrl-C. Default 5 s.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a new connection may take to finish its tunnel handshake. Default 10 s, like Kestrel's TLS handshake timeout.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How the gateway relays a direct stream's two plain legs (<c>direct_relay: splice|copy</c>):
    /// in the kernel with splice(2), or copied through Kestrel's pipes. Default splice, which cost
    /// the gateway less CPU per GB in the benchmark (docs/decisions.md, "Direct legs are spliced in the kernel").
    /// </summary>
    public SpliceMode DirectRelay { get; init; } = SpliceMode.Kernel;

    /// <summary>
    /// Whether the gateway makes direct streams' legs (plain TCP connections to its port). Default
    /// true; false where a proxy in front of the gateway passes only TLS with SNI, which would drop
    /// the legs: streams asked for as direct then go through the gateway's TLS, and say why.
    /// </summary>
    public bool DirectLegs { get; init; } = true;

    /// <summary>The HTTP services' limits (the <c>http:</c> section).</summary>
    public HttpServiceOptions Http { get; init; } = new();

    /// <summary>The <c>access:</c> section: re-check and rate-limit intervals (<see cref="AccessOptions"/>).</summary>
    public AccessOptions Access { get; init; } = new();

    /// <summary>The <c>trunks:</c> section: stream limits and idle timeout of users' trunks (<see cref="TrunkOptions"/>).</summary>
    public TrunkOptions Trunks { get; init; } = new();

    /// <summary>The <c>metrics:</c> section: where <c>/metrics</c> is served, if anywhere (<see cref="MetricsOptions"/>).</summary>
    public MetricsOptions Metrics { get; init; } = new();

    /// <summary>The <c>acme:</c> section: the certificate comes from an ACME CA instead of <see cref="CertificatePath"/> (<see cref="AcmeOptions"/>). Default none.</summary>
    public AcmeOptions? Acme { get; init; }

    /// <summary>The <c>oidc:</c> section: sign-in with an identity provider (<see cref="OidcOptions"/>); null when not set.</summary>
    public OidcOptions? Oidc { get; init; }

    public static GatewayOptions Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new ConfigException([new ConfigError(path, 0, 0, "(file)", "not found; create it with `jumpgate gateway init --dir " + directory + "`")]);
        }
        var file = YamlFile.Load(path);
        var root = file.Root;
        file.RejectUnknown(root, "", "listen", "domain", "certificate", "key", "store", "heartbeat_interval", "pool_size", "drain_timeout", "handshake_timeout", "direct_relay", "direct_legs", "http", AccessOptions.Section, TrunkOptions.Section, MetricsOptions.Section, AcmeOptions.Section,
            OidcOptions.Section);

        IPEndPoint listen = new(IPAddress.Loopback, 7443);
        var listenText = file.String(root, "listen", "listen", required: true);
        if (listenText is not null && !TryParseEndpoint(listenText, out listen))
        {
            file.Error(YamlFile.Get(root, "listen"), "listen", "expected an address and port such as 127.0.0.1:7443 or [::]:443");
        }
        var domain = file.String(root, "domain", "domain") ?? "localhost";
        if (Uri.CheckHostName(domain) != UriHostNameType.Dns)
        {
            file.Error(YamlFile.Get(root, "domain"), "domain", "expected a DNS name such as gw.example.org");
        }
        var heartbeat = file.Duration(root, "heartbeat_interval", "heartbeat_interval");
        if (heartbeat is { } h && (h < TimeSpan.FromMilliseconds(100) || h > TimeSpan.FromSeconds(3)))
        {
            file.Error(YamlFile.Get(root, "heartbeat_interval"), "heartbeat_interval", "must be from 100ms to 3s so a dead peer is noticed within 10 s");
        }
        var options = new GatewayOptions
        {
            Listen = listen,
            Domain = domain,
            CertificatePath = file.ResolvePath(file.String(root, "certificate", "certificate") ?? "gateway.crt"),
            KeyPath = file.ResolvePath(file.String(root, "key", "key") ?? "gateway.key"),
            Store = ParseStore(file, root),
            HeartbeatInterval = heartbeat ?? TimeSpan.FromSeconds(2),
            PoolSize = file.Int(root, "pool_size", "pool_size", 0, 64) ?? 4,
            DrainTimeout = file.Duration(root, "drain_timeout", "drain_timeout") ?? TimeSpan.FromSeconds(5),
            HandshakeTimeout = file.Duration(root, "handshake_timeout", "handshake_timeout") ?? TimeSpan.FromSeconds(10),
            DirectRelay = ParseDirectRelay(file, root),
            DirectLegs = file.Bool(root, "direct_legs", "direct_legs") ?? true,
            Http = HttpServiceOptions.Parse(file, file.Mapping(root, "http", "http")),
            Access = AccessOptions.Parse(file, root),
            Trunks = TrunkOptions.Parse(file, root),
            Metrics = MetricsOptions.Parse(file, root),
            Acme = AcmeOptions.Parse(file, root, directory),
            Oidc = OidcOptions.Parse(file, root),
        };
        file.ThrowIfErrors();
        return options;
    }

    private static SpliceMode ParseDirectRelay(YamlFile file, YamlDotNet.RepresentationModel.YamlMappingNode root)
    {
        switch (file.String(root, "direct_relay", "direct_relay"))
        {
            case null or "splice":
                return SpliceMode.Kernel;
            case "copy":
                return SpliceMode.Copy;
            default:
                file.Error(YamlFile.Get(root, "direct_relay"), "direct_relay", "expected splice (in the kernel) or copy (through Kestrel's pipes)");
                return SpliceMode.Kernel;
        }
    }

    private static StoreLocation ParseStore(YamlFile file, YamlDotNet.RepresentationModel.YamlMappingNode root)
    {
        var text = file.String(root, "store", "store") ?? "gateway.db";
        if (!StoreLocation.IsPostgres(text))
        {
            return StoreLocation.Sqlite(file.ResolvePath(text));
        }
        if (!PostgresUrl.TryParse(text, out var url, out var error))
        {
            file.Error(YamlFile.Get(root, "store"), "store", error);
            return StoreLocation.Sqlite(file.ResolvePath("gateway.db"));
        }
        return StoreLocation.PostgreSql(url);
    }

    public static bool TryParseEndpoint(string text, out IPEndPoint endpoint)
    {
        if (text.StartsWith("*:", StringComparison.Ordinal))
        {
            text = "0.0.0.0" + text[1..];
        }
        else if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase))
        {
            text = "127.0.0.1" + text["localhost".Length..];
        }
        // An IPv6 address needs brackets so its port is unambiguous: [::]:443, not :: (which would parse as port 0).
        var portSeparator = text.StartsWith('[') ? text.IndexOf("]:", StringComparison.Ordinal) : text.IndexOf(':', StringComparison.Ordinal);
        var singleColon = text.StartsWith('[') || text.IndexOf(':', StringComparison.Ordinal) == text.LastIndexOf(':');
        endpoint = null!;
        return portSeparator > 0 && singleColon && IPEndPoint.TryParse(text, out endpoint!);
    }
}

/// <summary>Limits of the HTTP services the gateway proxies, from gateway.yaml's <c>http:</c> section.</summary>
internal sealed record HttpServiceOptions
{
    /// <summary>
    /// The largest request body to a service, in MiB; a larger one gets 413. Default 1024 (datasets and checkpoints go
    /// through Jupyter's upload). It applies only once a request is signed in and allowed; until then, and for the
    /// gateway's own pages and API, <see cref="GatewayBodyBytes"/> does.
    /// </summary>
    public long MaxBodyBytes { get; init; } = 1024L << 20;

    /// <summary>
    /// The largest request body to the gateway's own endpoints (sign-in, sign-out, the JSON API) and to a service before
    /// the request is signed in and allowed: 64 KiB, fixed. They take a token and a few names; a stranger must not be able
    /// to make the gateway hold the upload limit's gigabyte.
    /// </summary>
    public const long GatewayBodyBytes = 64 * 1024;

    /// <summary>How long a client may take to send a request's headers; a slower one gets 408. Default 10 s.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a browser stays signed in. Default 12 h: a working day, then sign in again.</summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(12);

    public static HttpServiceOptions Parse(YamlFile file, YamlDotNet.RepresentationModel.YamlMappingNode? section)
    {
        if (section is null)
        {
            return new HttpServiceOptions();
        }
        file.RejectUnknown(section, "http", "max_body_mib", "header_timeout", "session_lifetime");
        var defaults = new HttpServiceOptions();
        return new HttpServiceOptions
        {
            MaxBodyBytes = (file.Int(section, "max_body_mib", "http.max_body_mib", 1, 1 << 20) ?? 1024) * (1L << 20),
            HeaderTimeout = file.Duration(section, "header_timeout", "http.header_timeout") ?? defaults.HeaderTimeout,
            SessionLifetime = file.Duration(section, "session_lifetime", "http.session_lifetime") ?? defaults.SessionLifetime,
        };
    }
}
