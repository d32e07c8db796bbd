using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Jumpgate.Core.Metrics;

/// <summary>
/// The Prometheus exposition of a process's meters: OpenTelemetry's SDK collects the
/// <c>System.Diagnostics.Metrics</c> instruments by meter name, and its Prometheus exporter writes
/// the text format on each scrape (docs/metrics.md says why this library). Gateway and agent
/// build one each, for their own meter and the runtime's.
/// </summary>
internal sealed class MetricsExport : IDisposable
{
    /// <summary>The runtime's own meter (.NET 9 and later): GC heap, thread pool queue, exceptions, …</summary>
    public const string RuntimeMeter = "System.Runtime";

    public const string Path = "/metrics";

    public MetricsExport(params string[] meters)
    {
        Provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter([.. meters, RuntimeMeter])
            .AddPrometheusExporter(prometheus =>
            {
                // Prometheus' own job and instance labels say whose the series are; OpenTelemetry's scope and
                // resource labels would only repeat them on every line.
                prometheus.ScopeInfoEnabled = false;
                prometheus.TargetInfoEnabled = false;
                // A scrape every second gets fresh figures (the default cache would hand it the last one for 300 ms).
                prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
            })
            .Build();
    }

    public MeterProvider Provider { get; }

    /// <summary>Serves <see cref="Path"/> to the requests <paramref name="predicate"/> lets through.</summary>
    public void MapScrape(IApplicationBuilder app, Func<HttpContext, bool> predicate) =>
        app.UseOpenTelemetryPrometheusScrapingEndpoint(Provider, predicate, path: null, configureBranchedPipeline: null, optionsName: null);

    /// <summary>
    /// A plain-HTTP listener of its own that answers <see cref="Path"/> and nothing else (404): for a
    /// scraper on the same machine or network, with no TLS and no token, so it is loopback unless the
    /// configuration says otherwise on purpose. Returns the server, whose address is <see cref="MetricsServer.Address"/>.
    /// </summary>
    public async Task<MetricsServer> ServeAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(endpoint);
        });
        var app = builder.Build();
        MapScrape(app, http => http.Request.Path == Path);
        app.Run(http =>
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "";
        return new MetricsServer(app, address);
    }

    public void Dispose() => Provider.Dispose();
}

/// <summary>A running <see cref="MetricsExport.ServeAsync"/> listener; disposing it stops it.</summary>
internal sealed class MetricsServer(WebApplication app, string address) : IAsyncDisposable
{
    /// <summary>Where it listens, as <c>http://127.0.0.1:9464</c>.</summary>
    public string Address { get; } = address;

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }
}
