using System.Text.Json;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// The cost of being watched: one Jumpgate (a gateway with its metrics listener, an agent, a
/// `jumpgate forward`) measured with the admin's dashboard open in headless Chromium (signed in,
/// receiving its live updates) and a real Prometheus scraping the gateway's /metrics every second,
/// against neither, rounds alternated in one run: new connections as the new-connection figure
/// opens them, and the subdomain's requests/s with wrk as the HTTP figure loads it.
/// </summary>
internal static class Watched
{
    private const string Neither = "Jumpgate, nobody watching";
    private const string Watching = "**Jumpgate, dashboard open and Prometheus scraping every 1 s**";
    private const string LatencyFigure = "watched: new connection p50 / p99";
    private const string HttpFigure = "watched: HTTP small page, req/s · p99";

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        if (!File.Exists(Chromium.ChromiumPath) || !PrometheusServer.Installed)
        {
            table.Add(new Row(LatencyFigure, Watching, $"n/a ({(PrometheusServer.Installed ? "chromium" : "prometheus")} is not installed)"));
            return;
        }
        var loadBefore = LoadAverage();
        var services = new Dictionary<string, int> { ["echo"] = rig.Echo.Port };
        if (rig.Web is not null)
        {
            services[JumpgateRig.HttpService] = rig.Web.UpstreamPort;
        }
        await using var jumpgate = await JumpgateRig.StartAsync(services, gatewayYaml: """
            metrics:
              listen: 127.0.0.1:0
            """);
        var metrics = (await jumpgate.Gateway.WaitForLineAsync(@"metrics on http://(\S+)/metrics", Signals.Timeout(10))).Groups[1].Value;
        var path = new TunnelPath(Neither, await jumpgate.ForwardAsync("echo", ForwardPath.Trunk), null);
        await EchoProbe.VerifyAsync(Neither, path.EchoPort, 1 << 20, Signals.Timeout(30));
        Http.WrkTarget? web = null;
        if (rig.Web is not null && Http.WrkPath is not null)
        {
            var (gatewayPort, host, cookie) = await jumpgate.BrowserSessionAsync();
            web = new Http.WrkTarget(Neither, $"https://127.0.0.1:{gatewayPort}/", ["-H", $"Host: {host}", "-H", $"Cookie: {cookie}"]);
        }

        await using var watchers = await Watchers.StartAsync(jumpgate, metrics);
        var conditions = new[] { Neither, Watching };
        var samples = conditions.ToDictionary(c => c, _ => new List<double>());
        var failures = conditions.ToDictionary(c => c, _ => 0);
        var connectionCpu = conditions.ToDictionary(c => c, _ => 0.0);
        var http = conditions.ToDictionary(c => c, _ => new List<(double Rps, double P99, double CpuMicroseconds)>());
        var machineBusy = conditions.ToDictionary(c => c, _ => new List<double>());
        var watcherCores = new List<double>();

        // Unmeasured: the JIT's first tiers, and the dashboard's and the scrape's own first requests.
        await watchers.WatchAsync(say);
        await Latency.MeasureAsync(path, plan.LatencyWarmup, TimeSpan.FromSeconds(5), [], () => { });
        if (web is not null)
        {
            await Http.WrkAsync(web, plan.HttpWarmupSeconds);
        }
        // What watching costs the gateway with no traffic at all: the snapshots, the admin's lists, the scrapes.
        var idle = TimeSpan.FromSeconds(2 * plan.HttpSeconds);
        var idleWatched = await IdleGatewayMillisecondsAsync(jumpgate, idle);
        await watchers.LookAwayAsync();
        var idleAlone = await IdleGatewayMillisecondsAsync(jumpgate, idle);
        say($"watched: an idle gateway spends {idleWatched / idle.TotalSeconds:0.0} ms CPU a second watched, {idleAlone / idle.TotalSeconds:0.0} ms not");
        for (var round = 1; round <= plan.WatchedRounds; round++)
        {
            // The order turns each round, so neither condition always runs right after the other.
            foreach (var condition in round % 2 == 1 ? conditions : conditions.Reverse())
            {
                if (condition == Watching)
                {
                    await watchers.WatchAsync(say);
                }
                else
                {
                    await watchers.LookAwayAsync();
                }
                var machine = new CpuMeter();
                var watcherCpu = new ProcessCpu(watchers.Roles);
                var roundClock = System.Diagnostics.Stopwatch.StartNew();
                var before = samples[condition].Count;
                var cpu = new ProcessCpu(jumpgate.Roles);
                await Latency.MeasureAsync(path, plan.LatencyPerRound, plan.LatencyRoundCap, samples[condition], () => failures[condition]++);
                connectionCpu[condition] += cpu.Spent().Sum(r => r.Milliseconds);
                var got = samples[condition].Skip(before).ToList();
                var line = $"watched {round}/{plan.WatchedRounds}: {condition} new connection p50 {Table.F(Stats.Median(got))} ms over {got.Count}";
                if (web is not null)
                {
                    cpu = new ProcessCpu(jumpgate.Roles);
                    var measured = await Http.WrkAsync(web with { Name = condition }, plan.HttpSeconds);
                    var microseconds = cpu.Spent().Where(r => r.Name is "gateway" or "agent").Sum(r => r.Milliseconds) * 1000 / measured.Requests;
                    http[condition].Add((measured.Rps, measured.P99, microseconds));
                    line += $", HTTP {measured.Rps:0} req/s, p99 {Table.F(measured.P99)} ms, {microseconds:0} µs CPU each";
                }
                machineBusy[condition].Add(machine.CoresBusy());
                if (condition == Watching)
                {
                    var watching = watcherCpu.Spent().Sum(r => r.Milliseconds) / roundClock.Elapsed.TotalMilliseconds;
                    watcherCores.Add(watching);
                    line += $"; Chromium and Prometheus busy {watching:0.00} cores";
                }
                say(line);
            }
        }
        var pageMessages = watchers.PageFailures;
        await watchers.LookAwayAsync();

        string LatencyResult(string name)
        {
            var all = samples[name];
            var n = Math.Max(1, all.Count + failures[name]);
            var failed = failures[name] > 0 ? $", **{failures[name]} failed**" : "";
            return $"{Table.F(Stats.Median(all))} / {Table.F(Stats.Percentile(all, 99))} ms (n = {all.Count}{failed}), {Table.F(connectionCpu[name] / n)} ms CPU each";
        }
        table.Add(new Row(LatencyFigure, Neither, LatencyResult(Neither)));
        var (watched, alone) = (samples[Watching], samples[Neither]);
        table.Check(LatencyFigure, LatencyResult(Watching), Stats.Median(watched) / Stats.Median(alone), "nobody watching (p50)", "≤ 1.05 ×", atMost: true, 1.05, Watching);
        if (web is not null)
        {
            double Rps(string name) => Stats.Median([.. http[name].Select(r => r.Rps)]);
            double P99(string name) => Stats.Median([.. http[name].Select(r => r.P99)]);
            double Cpu(string name) => Stats.Median([.. http[name].Select(r => r.CpuMicroseconds)]);
            string Result(string name) => $"{Rps(name):0} req/s · p99 {Table.F(P99(name))} ms, gateway+agent {Cpu(name):0} µs CPU each";
            table.Add(new Row(HttpFigure, Neither, Result(Neither)));
            table.Check(HttpFigure, Result(Watching), Rps(Watching) / Rps(Neither), "nobody watching req/s", "≥ 0.95 × (within 1.05 ×)", atMost: false, 1 / 1.05, Watching);
            table.Note($"Watched, CPU each: with the dashboard open and Prometheus scraping, the gateway and the agent spend {Cpu(Watching) / Cpu(Neither):0.00} × their CPU per request; " +
                $"per new connection, gateway, agent and forward spend {connectionCpu[Watching] / Math.Max(1, watched.Count + failures[Watching]) / (connectionCpu[Neither] / Math.Max(1, alone.Count + failures[Neither])):0.00} ×.");
        }
        else
        {
            table.Add(new Row(HttpFigure, Watching, $"n/a ({(rig.Web is null ? "nginx" : "wrk")} is not installed)"));
        }
        table.Note($"Watched: one Jumpgate (a gateway with a metrics listener, an agent, `jumpgate forward`), measured in {plan.WatchedRounds} alternated rounds (the order turning each round) " +
            "with the admin's dashboard open in headless Chromium (signed in with `jumpgate open --dashboard --admin`'s link, its live stream running) and Debian's Prometheus scraping the gateway's /metrics every 1 s, " +
            "and with neither (the tab on about:blank, Prometheus stopped). New connections as the new-connection figure opens them, HTTP as the HTTP figure loads the subdomain. " +
            $"Watched, idle: with no traffic the gateway spends {idleWatched / idle.TotalSeconds:0.0} ms of CPU a second watched, {idleAlone / idle.TotalSeconds:0.0} ms not ({idle.TotalSeconds:0} s each); " +
            $"under load, Chromium and Prometheus themselves kept {Table.F(Stats.Median(watcherCores))} cores busy (median of the watched rounds, /proc/PID/stat), which a machine that runs them elsewhere does not pay. " +
            $"Machine load: load average {loadBefore} before the figure, {LoadAverage()} after; the whole machine busy {Table.F(Stats.Median(machineBusy[Watching]))} cores watched, {Table.F(Stats.Median(machineBusy[Neither]))} not (medians over the rounds, of {Environment.ProcessorCount})." +
            (pageMessages.Count > 0 ? $" The page reported: {string.Join("; ", pageMessages.Take(3))}." : ""));
    }

    private static async Task<double> IdleGatewayMillisecondsAsync(JumpgateRig jumpgate, TimeSpan length)
    {
        var cpu = new ProcessCpu([("gateway", [jumpgate.Gateway.Id])]);
        // A fixed stretch of time is the measurement here, not a wait for something to happen.
        await Task.Delay(length);
        return cpu.Spent().Sum(r => r.Milliseconds);
    }

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>
    /// The two watchers, switched on and off between rounds: the admin's dashboard in one Chromium
    /// tab (signed in once; looking away is going to about:blank, which ends its event stream) and
    /// a Prometheus started for each watched round (stopped, by its pid, when looking away).
    /// </summary>
    private sealed class Watchers : IAsyncDisposable
    {
        private readonly ChromiumPage _page;
        private readonly Uri _dashboard;
        private readonly string _metrics;
        private PrometheusServer? _prometheus;
        private readonly List<string> _failures = [];

        private Watchers(ChromiumPage page, Uri dashboard, string metrics)
        {
            _page = page;
            _dashboard = dashboard;
            _metrics = metrics;
        }

        /// <summary>The watchers' processes: Chromium with its renderers and helpers, and Prometheus while it runs.</summary>
        public IReadOnlyList<(string Name, IReadOnlyList<int> Pids)> Roles =>
            [("chromium", Processes.Tree(_page.ProcessId)), ("prometheus", _prometheus is null ? [] : [_prometheus.ProcessId])];

        /// <summary>What the page said went wrong (a failed load, a script error), if anything.</summary>
        public IReadOnlyList<string> PageFailures => _failures;

        public static async Task<Watchers> StartAsync(JumpgateRig jumpgate, string metrics)
        {
            var deployment = jumpgate.Deployment;
            var admin = await Checked(deployment.JumpgateAsync("gateway", "add-admin", "root", "--dir", deployment.GatewayDir));
            await Checked(Command.RunAsync(TestSupport.Jumpgate.Executable, ["admin", "login", deployment.GatewayUrl, "--token", "-", "--fingerprint", deployment.Fingerprint],
                Signals.Timeout(60), deployment.ClientEnvironment, stdin: admin.Stdout));
            var open = await Checked(deployment.JumpgateAsync("open", "--dashboard", "--admin", "--json"));
            using var json = JsonDocument.Parse(open.Stdout);
            var link = new Uri(json.RootElement.GetProperty("sign_in_url").GetString()!);
            var page = await ChromiumPage.StartAsync(null, Chromium.SpkiHash(Path.Combine(deployment.GatewayDir, "gateway.crt")));
            try
            {
                // The one-time link signs the tab in and lands on the dashboard; later rounds come back to its address.
                await page.NavigateAsync(link);
                return new Watchers(page, new Uri(await page.LocationAsync()), metrics);
            }
            catch
            {
                await page.DisposeAsync();
                throw;
            }
        }

        /// <summary>Opens the dashboard and starts Prometheus; returns once the page shows the live agent and Prometheus has scraped the gateway.</summary>
        public async Task WatchAsync(Action<string> say)
        {
            if (_prometheus is null)
            {
                _prometheus = await PrometheusServer.StartAsync($"""
                      - job_name: jumpgate
                        static_configs:
                          - targets: ["{_metrics}"]
                    """, null);
                if (!await Signals.UntilAsync(async () => await _prometheus.QueryAsync("""up{job="jumpgate"}""") == 1, Signals.Timeout(30), TimeSpan.FromMilliseconds(200)))
                {
                    throw new TimeoutException("Prometheus did not scrape the gateway within 30 s: " + string.Join("; ", await _prometheus.TargetsAsync()));
                }
            }
            await _page.NavigateAsync(_dashboard);
            // The agent's row comes with the first snapshot of the live stream, and the admin's lists after it.
            const string Live = "document.querySelector('#agents tr[data-agent]') !== null && document.querySelectorAll('#audit tbody tr').length > 0";
            if (!await Signals.UntilAsync(async () => await _page.EvaluateAsync(Live) == "true", Signals.Timeout(20), TimeSpan.FromMilliseconds(100)))
            {
                throw new TimeoutException("the dashboard showed no live agent within 20 s: " + await _page.EvaluateAsync("document.body.innerText"));
            }
            _failures.AddRange(_page.Messages.Where(m => !_failures.Contains(m)));
            say($"watched: dashboard live at {_dashboard}, Prometheus scraping {_metrics} every 1 s");
        }

        public async Task LookAwayAsync()
        {
            await _page.NavigateAsync(new Uri("about:blank"));
            if (_prometheus is not null)
            {
                await _prometheus.DisposeAsync();
                _prometheus = null;
            }
        }

        private static async Task<CommandResult> Checked(Task<CommandResult> command)
        {
            var result = await command;
            return result.ExitCode == 0 ? result : throw new InvalidOperationException(result.ToString());
        }

        public async ValueTask DisposeAsync()
        {
            if (_prometheus is not null)
            {
                await _prometheus.DisposeAsync();
            }
            await _page.DisposeAsync();
        }
    }
}
