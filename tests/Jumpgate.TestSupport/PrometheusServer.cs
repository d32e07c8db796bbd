using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// Debian's Prometheus, started by a test on a free loopback port with a scrape configuration of
/// its own and its own storage in a temporary folder (never the system's service), and stopped by
/// its PID. Queries go to its HTTP API as Grafana's would.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    private readonly TempDirectory _dir;
    private readonly ChildProcess _process;
    private readonly HttpClient _http;

    private PrometheusServer(TempDirectory dir, ChildProcess process, int port)
    {
        _dir = dir;
        _process = process;
        Url = $"http://127.0.0.1:{port}";
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Url { get; }

    /// <summary>Prometheus's process, for a measure of its CPU.</summary>
    public int ProcessId => _process.Id;

    public static bool Installed => File.Exists(Binary);

    /// <summary>Starts Prometheus with <paramref name="scrapeConfigs"/> (YAML list items under <c>scrape_configs:</c>) and waits until it serves.</summary>
    public static async Task<PrometheusServer> StartAsync(string scrapeConfigs, ITestOutputHelper? output)
    {
        if (!Installed)
        {
            throw new InvalidOperationException($"{Binary} is missing: install Debian's prometheus (test.sh does)");
        }
        var dir = new TempDirectory("jg-prometheus");
        try
        {
            await File.WriteAllTextAsync(dir.File("prometheus.yml"), $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                scrape_configs:
                {scrapeConfigs}
                """);
            var port = Sshd.FreePort();
            var process = ChildProcess.Start("prometheus", Binary,
            [
                "--config.file=" + dir.File("prometheus.yml"),
                "--storage.tsdb.path=" + dir.File("data"),
                "--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
                // Its own ~20 MB of fresh storage and nothing kept: the folder goes with the test.
                "--storage.tsdb.retention.time=1h",
            ], output);
            var server = new PrometheusServer(dir, process, port);
            await process.WaitForLineAsync("Server is ready to receive web requests", Signals.Timeout(60));
            return server;
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>An instant query's value, summed over its series; null while it has none (nothing scraped yet).</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        using var response = await _http.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        if (root.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"Prometheus refused {promql}: {root}");
        }
        double? sum = null;
        foreach (var series in root.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            sum = (sum ?? 0) + double.Parse(series.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }
        return sum;
    }

    /// <summary>The health of each scrape target, as its targets page shows it: job, then "up" or the last error.</summary>
    public async Task<IReadOnlyList<(string Job, string Health, string Error)>> TargetsAsync()
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync("/api/v1/targets"));
        return
        [
            .. json.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray().Select(t => (
                t.GetProperty("labels").GetProperty("job").GetString()!, t.GetProperty("health").GetString()!, t.GetProperty("lastError").GetString() ?? "")),
        ];
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.Exited.IsCompleted)
        {
            _process.Signal(ChildProcess.SIGTERM);
            await Task.WhenAny(_process.Exited, Task.Delay(TimeSpan.FromSeconds(10)));
        }
        await _process.DisposeAsync();
        _dir.Dispose();
    }
}
