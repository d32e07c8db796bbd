using System.Globalization;
using System.Text.RegularExpressions;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 6: requests/s and p99 latency with wrk for a small page: direct to the upstream, through
/// nginx as a reverse proxy, through nginx built in Jumpgate's shape (the judged peer), and through
/// Jumpgate's subdomain (HTTPS to the gateway with a signed-in session, as a browser; the gateway's
/// HTTP/1.1 pool through the agent to the same upstream).
/// </summary>
internal static partial class Http
{
    private const string Direct = "direct (upstream nginx)";
    private const string Proxy = "nginx reverse proxy";
    private const string Shape = "nginx in Jumpgate's shape: HTTPS proxy, TLS keep-alive to an nginx TCP relay, plain TCP to the upstream (C)";
    private const string Figure = "HTTP small page, req/s · p99";
    private const string Subdomain = "Jumpgate subdomain (HTTPS, signed in)";
    private const string DotnetShapeName = ".NET in Jumpgate's shape: Kestrel HTTPS and YARP, TLS keep-alive to a relay of SslStream and sockets, plain TCP to the upstream (nothing of Jumpgate; reference)";
    private const string Target = "≥ 0.8 × req/s, p99 ≤ 1.2 ×";

    public static string? WrkPath => File.Exists("/usr/bin/wrk") ? "/usr/bin/wrk" : null;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        if (rig.Web is null || WrkPath is null || rig.Web.ShapePort == 0)
        {
            table.Add(new Row(Figure, "peers", $"n/a ({(rig.Web is null ? "nginx" : WrkPath is null ? "wrk" : "nginx's stream module, libnginx-mod-stream,")} is not installed)"));
            table.Add(new Row(Figure, PathNames.Jumpgate, "n/a", "", Target, "n/a"));
            return;
        }
        var targets = new List<WrkTarget>
        {
            new(Direct, $"http://127.0.0.1:{rig.Web.UpstreamPort}/"),
            new(Proxy, $"http://127.0.0.1:{rig.Web.ProxyPort}/"),
            new(Shape, $"https://127.0.0.1:{rig.Web.ShapePort}/"),
        };
        // What .NET's own layers allow in this shape (bench/Jumpgate.Bench.DotnetShape); absent when not built.
        await using var dotnet = await DotnetShape.StartAsync(rig.Web.UpstreamPort, native: rig.NativeJumpgate is not null);
        if (dotnet is not null)
        {
            targets.Add(new(DotnetShapeName, $"https://127.0.0.1:{dotnet.Port}/"));
        }
        var (gatewayPort, host, cookie) = await rig.Jumpgate.BrowserSessionAsync();
        targets.Add(new(Subdomain, $"https://127.0.0.1:{gatewayPort}/", ["-H", $"Host: {host}", "-H", $"Cookie: {cookie}"]));
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
        // CPU per request of the two middle processes of each shape (the gateway and the agent, or
        // their stand-ins; /proc/PID/stat): unlike req/s, it hardly moves with what else the machine
        // runs, so a change in the request path shows in it.
        var middle = new Dictionary<string, IReadOnlyList<(string Name, IReadOnlyList<int> Pids)>>
        {
            [Shape] = [("proxy", rig.Web.Pids("proxy")), ("relay", rig.Web.Pids("relay"))],
            [Subdomain] = [.. rig.Jumpgate.Roles.Where(r => r.Name is "gateway" or "agent")],
        };
        if (dotnet is not null)
        {
            middle[DotnetShapeName] = dotnet.Processes;
        }
        var cpuPerRequest = middle.Keys.ToDictionary(name => name, _ => new List<(double First, double Second)>());
        for (var round = 1; round <= plan.HttpRounds; round++)
        {
            foreach (var target in targets)
            {
                var name = target.Name;
                var cpu = middle.TryGetValue(name, out var processes) ? new ProcessCpu(processes) : null;
                var measured = await WrkAsync(target, plan.HttpSeconds);
                results[name].Add((measured.Rps, measured.P99));
                var spent = cpu?.Spent().Select(r => r.Milliseconds * 1000 / measured.Requests).ToList();
                if (spent is not null)
                {
                    cpuPerRequest[name].Add((spent[0], spent[1]));
                }
                say($"http round {round}/{plan.HttpRounds}: {name} {measured.Rps:0} req/s, p99 {Table.F(measured.P99)} ms" + (spent is null ? "" : $", middle processes {spent[0]:0} + {spent[1]:0} µs CPU each"));
            }
        }
        double Rps(string name) => Stats.Median([.. results[name].Select(r => r.Rps)]);
        double P99(string name) => Stats.Median([.. results[name].Select(r => r.P99)]);
        string Result(string name) => $"{Rps(name):0} req/s · p99 {Table.F(P99(name))} ms";
        foreach (var target in targets.Where(t => t.Name != Subdomain))
        {
            table.Add(new Row(Figure, target.Name, Result(target.Name)));
        }
        // The judged peer is nginx in Jumpgate's own shape (docs/decisions.md, "The benchmark measures C built in Jumpgate's shape").
        var rps = Rps(Subdomain) / Rps(Shape);
        var p99 = P99(Subdomain) / P99(Shape);
        var met = rps >= 0.8 && p99 <= 1.2 ? "yes" : "**no**";
        table.Add(new Row(Figure, PathNames.Jumpgate, Result(Subdomain), $"{rps:0.00} × req/s, p99 {p99:0.00} × nginx in the same shape", Target,
            plan.JudgeTargets ? met : $"({met}; smoke)"));
        table.Note($"HTTP: **Jumpgate** is the service's subdomain, HTTPS (its cookie is Secure) to the gateway, a TLS leg to the agent, plain TCP to the upstream; nginx built in that shape (C; one worker each, keep-alive on both legs, TLS 1.3 with AES-128-GCM, as the gateway does) is the judged peer. " +
            $"That shape serves {Rps(Shape) / Rps(Proxy):0.00} × the requests/s of a plain-HTTP nginx reverse proxy in one process, p99 {P99(Shape) / P99(Proxy):0.00} ×; Jumpgate serves {Rps(Subdomain) / Rps(Proxy):0.00} × and {P99(Subdomain) / P99(Proxy):0.00} ×.");
        string Each(string name) => $"{Stats.Median([.. cpuPerRequest[name].Select(c => c.First)]):0} + {Stats.Median([.. cpuPerRequest[name].Select(c => c.Second)]):0} µs";
        table.Note($"HTTP, CPU per request of the two middle processes (/proc/PID/stat over each wrk run, medians): Jumpgate's gateway + agent {Each(Subdomain)}; nginx in the shape, proxy + relay {Each(Shape)}" +
            (dotnet is null ? "." : $"; .NET in the shape, proxy + relay {Each(DotnetShapeName)}."));
        if (dotnet is not null)
        {
            table.Note($"HTTP: .NET in Jumpgate's shape (bench/Jumpgate.Bench.DotnetShape, {(dotnet.Native ? "Native AOT" : "JIT")}) is Kestrel's HTTPS and YARP's forwarder with SocketsHttpHandler's pool over TLS 1.3 (AES-128-GCM) to a relay of SslStream and sockets (inline completions on one epoll thread, as the agent runs), nothing of Jumpgate: " +
                $"{Rps(DotnetShapeName) / Rps(Shape):0.00} × the requests/s of nginx in the same shape, p99 {P99(DotnetShapeName) / P99(Shape):0.00} ×, where Jumpgate serves {Rps(Subdomain) / Rps(DotnetShapeName):0.00} × its requests/s.");
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
