using System.Security.Cryptography.X509Certificates;
using Jumpgate.Core.Metrics;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Acme;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Api;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Dashboard;
using Jumpgate.Gateway.Expose;
using Jumpgate.Gateway.HostKeys;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Metrics;
using Jumpgate.Gateway.Routing;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Postgres;
using Jumpgate.Gateway.Tunnel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Hosting;

/// <summary>Builds and runs the gateway: one Kestrel HTTPS endpoint carrying tunnels and HTTP alike.</summary>
public static class GatewayServer
{
    /// <summary>Runs the gateway in <paramref name="directory"/> until <paramref name="cancellationToken"/> fires (Ctrl-C).</summary>
    public static async Task RunAsync(string directory, Action<ILoggingBuilder> logging, CancellationToken cancellationToken, Action<string>? onListening = null)
    {
        var options = GatewayOptions.Load(directory);
        CheckSecretFile(options.KeyPath);
        // A store URL with its password makes gateway.yaml as secret as the key.
        CheckSecretFile(options.Store.Postgres?.HasPassword == true ? Path.Combine(directory, GatewayOptions.FileName) : options.Store.Path!);
        if (options.Metrics.TokenFile is { } tokenFile)
        {
            CheckSecretFile(tokenFile);
        }
        var scrapeToken = options.Metrics.TokenFile is { } scrapeFile ? ScrapeToken.Load(scrapeFile) : null;
        // With ACME the certificate comes from the CA once the gateway listens (AcmeCertificates); clients trust the CA, not a fingerprint.
        var certificate = options.Acme is null ? X509Certificate2.CreateFromPemFile(options.CertificatePath, options.KeyPath) : null;
        using var store = options.Store.Open(options.Access.RecheckInterval);
        if (options.Store.Postgres is { } shared && certificate is not null)
        {
            PostgresCertificate.Claim(shared, Fingerprint.Of(certificate).ToString(), TimeProvider.System);
        }

        // No appsettings.json and no file watching: gateway.yaml is the configuration. The builder
        // adds appsettings.json before the sources can be cleared, watching the content root (the
        // gateway's directory, where every audit batch writes twice) unless told not to reload.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = Path.GetFullPath(directory),
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        logging(builder.Logging);
        // Enabled at any level, this category makes the host start an Activity (random W3C ids) and a log scope
        // for every request: 3 % of the gateway's CPU per proxied request, for lines it never writes at Warning.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        // The forwarder logs every request, URL and query included (a service's token can be in one); the proxy reports its failures itself.
        builder.Logging.AddFilter("Yarp", LogLevel.None);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(options.Access);
        builder.Services.AddSingleton(options.Trunks);
        AddStore(builder.Services, store);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new AuditFile(Path.Combine(directory, "audit.jsonl")));
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddSingleton<AuthRateLimiter>();
        builder.Services.AddSingleton<Authenticator>();
        builder.Services.AddSingleton<AccessMonitor>();
        builder.Services.AddHostedService(services => services.GetRequiredService<AccessMonitor>());
        builder.Services.AddSingleton<AgentRegistry>();
        builder.Services.AddSingleton<HostKeyRecords>();
        builder.Services.AddSingleton<ControlChannel>();
        builder.Services.AddSingleton<AgentStreams>();
        builder.Services.AddSingleton<DirectRendezvous>();
        builder.Services.AddSingleton<DirectLegHandler>();
        builder.Services.AddSingleton<StreamQuota>();
        builder.Services.AddSingleton<StreamAuthorizer>();
        builder.Services.AddSingleton<StreamBroker>();
        builder.Services.AddSingleton<LiveStreams>();
        builder.Services.AddSingleton<DirectStreams>();
        builder.Services.AddSingleton<DirectSessions>();
        builder.Services.AddSingleton<UserTrunks>();
        builder.Services.AddSingleton<TunnelHandler>();
        builder.Services.AddSingleton<ServiceRouter>();
        builder.Services.AddSingleton<SignInCodes>();
        builder.Services.AddSingleton<BrowserSessions>();
        builder.Services.AddSingleton<SignInEndpoints>();
        if (options.Oidc is { } oidc)
        {
            CheckSecretFile(oidc.ClientSecretFile);
            Oidc.OidcBrowserSignIn.Register(builder.Services, oidc);
        }
        builder.Services.AddSingleton<DashboardView>();
        builder.Services.AddSingleton<DashboardHistory>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DashboardHistory>());
        builder.Services.AddSingleton<DashboardEvents>();
        builder.Services.AddSingleton<DashboardEndpoints>();
        builder.Services.AddSingleton<UpstreamConnections>();
        builder.Services.AddSingleton<ReplicaPins>();
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<HttpProxy>();
        builder.Services.AddSingleton<ExposedPorts>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ExposedPorts>());
        var http01 = options.Acme is not null ? AddAcme(builder.Services, options.Acme, options.Domain) : null;
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.RequestHeadersTimeout = options.Http.HeaderTimeout;
            // Small for everything; HttpProxy raises it to http.max_body_mib per request, once a service request is allowed.
            kestrel.Limits.MaxRequestBodySize = HttpServiceOptions.GatewayBodyBytes;
            kestrel.Listen(options.Listen, listen =>
            {
                listen.Use(next => connection => TcpKeepAlive.OnConnectionAsync(connection, next));
                // In front of TLS: a direct stream's legs are plain TCP (their ends run TLS across the gateway).
                var direct = listen.ApplicationServices.GetRequiredService<DirectLegHandler>();
                listen.Use(next => connection => direct.OnConnectionAsync(connection, next));
                listen.Use(next => connection => TlsReadGateMiddleware.OnConnectionAsync(connection, next));
                if (certificate is not null)
                {
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = certificate,
                        SslProtocols = TlsDefaults.Protocols,
                        HandshakeTimeout = options.HandshakeTimeout,
                        OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = TlsDefaults.CipherSuites,
                    });
                }
                else
                {
                    listen.UseHttps(AcmeTls.Options(listen.ApplicationServices.GetRequiredService<AcmeCertificates>(), options.HandshakeTimeout));
                }
                var tunnel = listen.ApplicationServices.GetRequiredService<TunnelHandler>();
                listen.Use(next => connection => tunnel.OnConnectionAsync(connection, next));
            });
            if (options.Acme is { Challenge: AcmeChallengeKind.Http01 } acme)
            {
                // Plain HTTP, for the CA's HTTP-01 requests only (the first middleware answers them and nothing else).
                kestrel.Listen(acme.HttpListen);
            }
        });

        // After UseKestrel, whose own registration this replaces (the last one wins).
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>, LargeBlockMemoryPool.Factory>();
        var app = builder.Build();
        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        store.Health.OperationTimed = metrics.StoreOperation;
        if (http01 is not null)
        {
            app.Use((http, next) => http.Request.IsHttps ? next(http) : http01.AnswerAsync(http));
        }
        app.Use(async (http, next) =>
        {
            await next(http);
            metrics.HttpAnswered(http.Response.StatusCode);
        });
        app.UseWebSockets();
        var proxy = app.Services.GetRequiredService<HttpProxy>();
        app.Use(proxy.InvokeAsync);
        // After the proxy, not first (where WebApplication would put it): a service's request never reaches the
        // endpoints, so it skips their matcher (1.6 % of the gateway's CPU per proxied request).
        app.UseRouting();
        if (options.Oidc is not null)
        {
            // Behind the proxy, where only the JSON API's requests reach it and it has nothing to do: WebApplication would
            // otherwise put it first, where it would answer /signin-oidc on every service's subdomain. SignInEndpoints drives the handler.
            app.UseAuthentication();
        }
        // Built only when asked for: the exposition's collector costs nothing when nobody scrapes, but it need not exist at all.
        using var export = options.Metrics.Enabled ? new MetricsExport(GatewayMetrics.MeterName) : null;
        if (export is not null)
        {
            // After the proxy, so that a service's own /metrics (on its subdomain) stays the service's.
            MapScrape(app, export, scrapeToken, metrics);
        }
        app.MapJumpgateApi();
        app.MapJumpgateAdminApi();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Jumpgate.Gateway");
        store.Health.Logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<StoreHealth>();
        app.Lifetime.ApplicationStopping.Register(() => GatewayLog.Stopping(logger, options.DrainTimeout.TotalSeconds));

        await app.StartAsync(cancellationToken);
        // The container owns it: disposing the app stops its renewal loop.
        var acmeCertificates = options.Acme is null ? null : app.Services.GetRequiredService<AcmeCertificates>();
        if (acmeCertificates is not null)
        {
            await StartAcmeAsync(app, acmeCertificates, cancellationToken);
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(a => a.StartsWith("https://", StringComparison.Ordinal)) ?? "";
        GatewayLog.Listening(logger, address.Replace("https://", "", StringComparison.Ordinal), options.Domain, Fingerprint.Of(certificate ?? acmeCertificates!.Current!).ToString());
        await using var metricsServer = options.Metrics.Listen is { } metricsListen ? await export!.ServeAsync(metricsListen, cancellationToken) : null;
        if (metricsServer is not null)
        {
            GatewayLog.MetricsListening(logger, metricsServer.Address);
        }
        if (options.Oidc is not null)
        {
            await Oidc.OidcBrowserSignIn.AnnounceAsync(app.Services, logger, cancellationToken);
        }
        onListening?.Invoke(address);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: fall through to the orderly stop.
        }
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    /// <summary>The ACME parts: the certificates and their renewal, the DNS provider or the HTTP-01 answers (returned: the plain-HTTP port's only handler).</summary>
    private static Http01Challenge? AddAcme(IServiceCollection services, AcmeOptions acme, string domain)
    {
        var http01 = acme.Challenge == AcmeChallengeKind.Http01 ? new Http01Challenge() : null;
        var dns = acme.Dns is { } rfc2136 ? new Rfc2136Records(rfc2136) : null;
        services.AddSingleton(provider => new AcmeCertificates(acme, domain, http01, dns,
            provider.GetRequiredService<ILoggerFactory>().CreateLogger<AcmeCertificates>(), provider.GetRequiredService<TimeProvider>()));
        return http01;
    }

    /// <summary>
    /// Obtains the first certificate (or loads the kept one) once the ports listen, since HTTP-01 needs the plain one;
    /// a CA that refuses stops the gateway with its reason rather than leaving it up with nothing to serve.
    /// </summary>
    private static async Task StartAcmeAsync(WebApplication app, AcmeCertificates acme, CancellationToken cancellationToken)
    {
        try
        {
            await acme.StartAsync(cancellationToken);
        }
        catch (Exception e) when (AcmeCertificates.IsRenewalFailure(e))
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            throw new InvalidOperationException($"the gateway has no certificate: {e.Message} (acme: in gateway.yaml; docs/certificates.md)", e);
        }
    }

    /// <summary>
    /// <c>/metrics</c> on the main port, to a scraper with the token of <c>metrics: token_file:</c>;
    /// without a token file, or without the right token, the main port refuses it (401, no detail).
    /// </summary>
    private static void MapScrape(WebApplication app, MetricsExport export, ScrapeToken? token, GatewayMetrics metrics)
    {
        if (token is not null)
        {
            export.MapScrape(app, http => http.Request.Path == MetricsExport.Path && token.Allows(http));
        }
        app.Use((http, next) =>
        {
            if (http.Request.Path != MetricsExport.Path)
            {
                return next(http);
            }
            metrics.AuthFailed("scrape");
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// The store's parts, one per concern, as the rest of the gateway asks for them; a second
    /// backend fills the same parts. The caches over them are the backend's neighbours, not its parts.
    /// </summary>
    private static void AddStore(IServiceCollection services, GatewayStores store)
    {
        services.AddSingleton(store);
        services.AddSingleton(store.Principals);
        services.AddSingleton(store.Tokens);
        services.AddSingleton(store.Rules);
        services.AddSingleton(store.Hosts);
        services.AddSingleton(store.Audit);
        services.AddSingleton(store.WebSessions);
        services.AddSingleton(store.SignInCodes);
        services.AddSingleton(store.Exposures);
        services.AddSingleton(store.HostKeys);
        services.AddSingleton(store.OidcRefresh);
        services.AddSingleton(store.Generation);
        services.AddSingleton(store.Health);
        services.AddSingleton<AccessCache>();
    }

    /// <summary>A key or store others can read is a leak waiting to happen: refuse to start and say how to fix it.</summary>
    private static void CheckSecretFile(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }
        var mode = File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            throw new InvalidOperationException($"{path} can be read by other users (mode {Convert.ToString((int)mode, 8)}); fix it with `chmod 600 {path}`");
        }
    }
}
