using System.Globalization;
using System.Text.RegularExpressions;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 6: requests/s and p99 latency with wrk for a small page: direct to the upstream, through
/// nginx as a reverse proxy, and through Jumpgate's subdomain (HTTPS to the gateway with a signed-in
/// session, as a browser; the gateway's HTTP/1.1 pool through the agent to the same upstream). The
/// TCP path through `jumpgate forward` is measured for reference.
/// </summary>
internal static partial class Http
{
    private const string Direct = "direct (upstream nginx)";
    private const string Proxy = "nginx reverse proxy";
    private const string ProxyTls = "nginx reverse proxy, HTTPS (TLS 1.3, AES-128-GCM; reference only)";
    private const string Shape = "nginx in Jumpgate's shape: HTTPS proxy, TLS keep-alive to an nginx TCP relay, plain TCP to the upstream (C; reference only)";
    private const string Forward = "Jumpgate forward (TCP, reference only)";
    private const string Figure = "HTTP small page, req/s · p99";
    private const string Subdomain = "Jumpgate subdomain (HTTPS, signed in)";
    private const string Target = "≥ 0.7 × nginx req/s, p99 ≤ 1.5 × nginx";

    public static string? WrkPath => File.Exists("/usr/bin/wrk") ? "/usr/bin/wrk" : null;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        if (rig.Web is null || WrkPath is null)
        {
            table.Add(new Row(Figure, "peers", $"n/a ({(rig.Web is null ? "nginx" : "wrk")} is not installed)"));
            table.Add(new Row(Figure, PathNames.Jumpgate, "n/a", "", Target, "n/a"));
            return;
        }
        var targets = new List<WrkTarget>
        {
            new(Direct, $"http://127.0.0.1:{rig.Web.UpstreamPort}/"),
            new(Proxy, $"http://127.0.0.1:{rig.Web.ProxyPort}/"),
            new(ProxyTls, $"https://127.0.0.1:{rig.Web.TlsProxyPort}/"),
        };
        if (rig.Web.ShapePort != 0)
        {
            targets.Add(new(Shape, $"https://127.0.0.1:{rig.Web.ShapePort}/"));
        }
        var (gatewayPort, host, cookie) = await rig.Jumpgate.BrowserSessionAsync();
        targets.Add(new(Subdomain, $"https://127.0.0.1:{gatewayPort}/", ["-H", $"Host: {host}", "-H", $"Cookie: {cookie}"]));
        if (rig[PathNames.Jumpgate].WebPort is { } forward)
        {
            targets.Add(new(Forward, $"http://127.0.0.1:{forward}/"));
        }
        // Each path must serve the upstream's page before it is measured.
        // nginx's HTTPS listener has a throw-away self-signed certificate on loopback; the check is of the page, not of it.
        using (var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }) { Timeout = TimeSpan.FromSeconds(10) })
        using (var browser = new GatewayBrowser(rig.Jumpgate.Deployment.GatewayUrl, rig.Jumpgate.Deployment.Fingerprint))
        {
            browser.Cookies.SetCookies(new Uri($"https://{host}/"), cookie.Replace("; ", ",", StringComparison.Ordinal));
            foreach (var target in targets)
            {
                var body = target.Name == Subdomain
                    ? await browser.Client.GetStringAsync(new Uri($"https://{host}/"))
                    : await http.GetStringAsync(new Uri(target.Url));
                if (body.TrimEnd('\n') != Nginx.Page.TrimEnd('\n'))
                {
                    throw new InvalidOperationException($"{target.Name} served an unexpected page: {body}");
                }
            }
        }
        // One unmeasured wrk run per path first, as the new-connection figure warms up: a fresh
        // gateway's request path is still at the JIT's first tier for the first seconds of load.
        foreach (var target in targets)
        {
            var warm = await WrkAsync(target, plan.HttpWarmupSeconds);
            say($"http warm-up: {target.Name} {warm.Rps:0} req/s");
        }
        var results = targets.ToDictionary(t => t.Name, _ => new List<(double Rps, double P99)>());
        // Jumpgate's own CPU per request (gateway and agent, /proc/PID/stat): unlike req/s, it
        // hardly moves with what else the machine runs, so a change in the request path shows in it.
        var cpuPerRequest = new Dictionary<string, List<double>> { [Subdomain] = [], [Forward] = [] };
        for (var round = 1; round <= plan.HttpRounds; round++)
        {
            foreach (var target in targets)
            {
                var name = target.Name;
                var cpu = cpuPerRequest.ContainsKey(name) ? new ProcessCpu(rig.Jumpgate.Roles) : null;
                var measured = await WrkAsync(target, plan.HttpSeconds);
                results[name].Add((measured.Rps, measured.P99));
                var microseconds = cpu is null ? (double?)null : cpu.Spent().Where(r => r.Name is "gateway" or "agent").Sum(r => r.Milliseconds) * 1000 / measured.Requests;
                if (microseconds is { } each)
                {
                    cpuPerRequest[name].Add(each);
                }
                say($"http round {round}/{plan.HttpRounds}: {name} {measured.Rps:0} req/s, p99 {Table.F(measured.P99)} ms" + (microseconds is { } us ? $", gateway+agent {us:0} µs CPU each" : ""));
            }
        }
        double Rps(string name) => Stats.Median([.. results[name].Select(r => r.Rps)]);
        double P99(string name) => Stats.Median([.. results[name].Select(r => r.P99)]);
        string Result(string name) => $"{Rps(name):0} req/s · p99 {Table.F(P99(name))} ms";
        foreach (var target in targets.Where(t => t.Name != Subdomain))
        {
            table.Add(new Row(Figure, target.Name, Result(target.Name)));
        }
        var rps = Rps(Subdomain) / Rps(Proxy);
        var p99 = P99(Subdomain) / P99(Proxy);
        table.Add(new Row(Figure, PathNames.Jumpgate, Result(Subdomain), $"{rps:0.00} × nginx req/s, p99 {p99:0.00} × nginx", Target,
            rps >= 0.7 && p99 <= 1.5 ? "yes" : "**no**"));
        var tlsRps = Rps(Subdomain) / Rps(ProxyTls);
        var tlsP99 = P99(Subdomain) / P99(ProxyTls);
        var nginxTls = Rps(ProxyTls) / Rps(Proxy);
        table.Note($"HTTP: the subdomain is HTTPS (its cookie is Secure), the judged nginx row plain HTTP; against the same nginx terminating TLS 1.3 with AES-128-GCM, as the gateway does, Jumpgate is {tlsRps:0.00} × its requests/s, p99 {tlsP99:0.00} ×. " +
            $"nginx itself, terminating TLS and nothing more, serves {nginxTls:0.00} × its plain-HTTP requests/s" +
            (nginxTls < 0.7 ? ": a proxy that must terminate TLS, as the gateway must (and it also crosses a second TLS leg and the agent), stays under the 0.7 × target however fast the rest of it is." : "."));
        if (results.ContainsKey(Shape))
        {
            var shapeRps = Rps(Shape) / Rps(Proxy);
            var shapeP99 = P99(Shape) / P99(Proxy);
            table.Note($"HTTP ceiling: Jumpgate's shape is a proxy that terminates TLS, a second TLS leg to a relay in another process, and the relay's plain TCP to the upstream. " +
                $"Built of nginx (C; one worker each, keep-alive on both legs, the same TLS 1.3 suite) that shape serves {shapeRps:0.00} × the plain nginx proxy's requests/s, p99 {shapeP99:0.00} ×" +
                (shapeRps < 0.7 || shapeP99 > 1.5 ? "; a target above that is out of reach for this shape on this machine. " : ". ") +
                $"Jumpgate serves {Rps(Subdomain) / Rps(Shape):0.00} × that shape's requests/s, p99 {P99(Subdomain) / P99(Shape):0.00} ×.");
        }
        if (cpuPerRequest[Subdomain].Count > 0 && cpuPerRequest[Forward].Count > 0)
        {
            var subdomainCpu = Stats.Median([.. cpuPerRequest[Subdomain]]);
            var forwardCpu = Stats.Median([.. cpuPerRequest[Forward]]);
            table.Note($"HTTP, CPU each: the gateway and the agent spend {subdomainCpu:0} µs per request through the subdomain, {forwardCpu:0} µs per request through `jumpgate forward` ({subdomainCpu / forwardCpu:0.00} ×; /proc/PID/stat over each wrk run, medians; `forward` also runs a CLI process, not counted).");
        }
        table.Note($"HTTP: wrk -t1 -c16 -d{plan.HttpSeconds}s --latency, {plan.HttpRounds} round(s) after a {plan.HttpWarmupSeconds} s unmeasured run of each path, medians; nginx 1 worker for the upstream and 1 for the proxy, keep-alive to the upstream.");
    }

    /// <summary>What wrk loads: a URL and extra headers (the subdomain's Host and session cookie).</summary>
    internal sealed record WrkTarget(string Name, string Url, IReadOnlyList<string>? ExtraArguments = null)
    {
        public IReadOnlyList<string> Headers => ExtraArguments ?? [];
    }

    internal static async Task<(double Rps, double P99, long Requests)> WrkAsync(WrkTarget target, int seconds)
    {
        var name = target.Name;
        var result = await Command.RunAsync(WrkPath!, ["-t1", "-c16", $"-d{seconds}s", "--latency", .. target.Headers, target.Url], TimeSpan.FromSeconds(seconds + 30));
        var rps = RequestsPerSecond().Match(result.Stdout);
        var p99 = Percentile99().Match(result.Stdout);
        var requests = RequestCount().Match(result.Stdout);
        if (result.ExitCode != 0 || !rps.Success || !p99.Success || !requests.Success || result.Stdout.Contains("Non-2xx", StringComparison.Ordinal) || result.Stdout.Contains("Socket errors", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"wrk through {name} failed or saw errors: {result}");
        }
        var value = double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture);
        var ms = p99.Groups[2].Value switch
        {
            "us" => value / 1000,
            "ms" => value,
            "s" => value * 1000,
            _ => value * 60_000,
        };
        return (double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture), ms, long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"(\d+) requests in ")]
    private static partial Regex RequestCount();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline)]
    private static partial Regex Percentile99();
}
