using System.Globalization;
using System.Text.RegularExpressions;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Figure 6: requests/s and p99 latency with wrk for a small page: direct to the upstream, through
/// nginx as a reverse proxy, and through Jumpgate. Jumpgate's subdomain HTTP proxy is not built yet
/// (issue 3), so its row says so; the TCP path through `jumpgate forward` is measured for reference.
/// </summary>
internal static partial class Http
{
    private const string Direct = "direct (upstream nginx)";
    private const string Proxy = "nginx reverse proxy";
    private const string Forward = "Jumpgate forward (TCP, reference only)";
    private const string Figure = "HTTP small page, req/s · p99";
    private const string Subdomain = "n/a (HTTP proxy not built yet)";

    public static string? WrkPath => File.Exists("/usr/bin/wrk") ? "/usr/bin/wrk" : null;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        if (rig.Web is null || WrkPath is null)
        {
            table.Add(new Row(Figure, "peers", $"n/a ({(rig.Web is null ? "nginx" : "wrk")} is not installed)"));
            table.Add(new Row(Figure, PathNames.Jumpgate, Subdomain, "", "≥ 0.7 × nginx req/s, p99 ≤ 1.5 × nginx", "n/a"));
            return;
        }
        var targets = new List<(string Name, int Port)> { (Direct, rig.Web.UpstreamPort), (Proxy, rig.Web.ProxyPort) };
        if (rig[PathNames.Jumpgate].WebPort is { } forward)
        {
            targets.Add((Forward, forward));
        }
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
        {
            foreach (var (name, port) in targets)
            {
                var body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/"));
                if (body.TrimEnd('\n') != Nginx.Page.TrimEnd('\n'))
                {
                    throw new InvalidOperationException($"{name} served an unexpected page: {body}");
                }
            }
        }
        var results = targets.ToDictionary(t => t.Name, _ => new List<(double Rps, double P99)>());
        for (var round = 1; round <= plan.HttpRounds; round++)
        {
            foreach (var (name, port) in targets)
            {
                var measured = await WrkAsync(name, port, plan.HttpSeconds);
                results[name].Add(measured);
                say($"http round {round}/{plan.HttpRounds}: {name} {measured.Rps:0} req/s, p99 {Table.F(measured.P99)} ms");
            }
        }
        string Result(string name) =>
            $"{Stats.Median([.. results[name].Select(r => r.Rps)]):0} req/s · p99 {Table.F(Stats.Median([.. results[name].Select(r => r.P99)]))} ms";
        foreach (var (name, _) in targets)
        {
            table.Add(new Row(Figure, name, Result(name)));
        }
        table.Add(new Row(Figure, PathNames.Jumpgate, Subdomain, "", "≥ 0.7 × nginx req/s, p99 ≤ 1.5 × nginx", "n/a"));
        table.Note($"HTTP: wrk -t1 -c16 -d{plan.HttpSeconds}s --latency, {plan.HttpRounds} round(s), medians; nginx 1 worker for the upstream and 1 for the proxy, keep-alive to the upstream.");
    }

    private static async Task<(double Rps, double P99)> WrkAsync(string name, int port, int seconds)
    {
        var result = await Command.RunAsync(WrkPath!, ["-t1", "-c16", $"-d{seconds}s", "--latency", $"http://127.0.0.1:{port}/"], TimeSpan.FromSeconds(seconds + 30));
        var rps = RequestsPerSecond().Match(result.Stdout);
        var p99 = Percentile99().Match(result.Stdout);
        if (result.ExitCode != 0 || !rps.Success || !p99.Success || result.Stdout.Contains("Non-2xx", StringComparison.Ordinal) || result.Stdout.Contains("Socket errors", StringComparison.Ordinal))
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
        return (double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture), ms);
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline)]
    private static partial Regex Percentile99();
}
