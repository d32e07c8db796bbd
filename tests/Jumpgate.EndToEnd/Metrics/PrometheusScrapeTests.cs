using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Metrics;

/// <summary>
/// A real Prometheus (Debian's) scrapes a real gateway every second, on its plain loopback metrics
/// listener and on the main HTTPS port with the scrape token, and an agent on its own listener; the
/// test reads what Prometheus stored through its HTTP API, as a Grafana panel would.
/// </summary>
public sealed partial class PrometheusScrapeTests(ITestOutputHelper output)
{
    private const string ScrapeToken = "scrape-0123456789abcdef0123456789abcdef";

    [Fact]
    public async Task PrometheusSeesStreamsRiseAndAnAgentLeave()
    {
        using var secrets = new TempDirectory("jg-scrape");
        var tokenFile = secrets.File("metrics.token");
        await File.WriteAllTextAsync(tokenFile, ScrapeToken + "\n");
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using var echo = new EchoServer();
        await using var deployment = await Deployment.StartAsync(output, gatewayYaml: $"""
            metrics:
              listen: 127.0.0.1:0
              token_file: {tokenFile}
            """);
        var gatewayMetrics = (await deployment.Gateway!.WaitForLineAsync(@"metrics on http://(\S+)/metrics", Signals.Timeout(10))).Groups[1].Value;
        var hosts = $"""
            node1:
              address: 127.0.0.1
              services:
                echo: {echo.Port}
            """;
        // lab-a serves its own /metrics; lab-b is the one that dies.
        var labA = deployment.Dir.File("lab-a.yaml");
        await File.WriteAllTextAsync(labA, $"""
            gateway: {deployment.GatewayUrl}
            token_file: {await deployment.AddAgentAsync("lab-a", "*")}
            fingerprint: {deployment.Fingerprint}
            metrics_listen: 127.0.0.1:0
            hosts:
              node1:
                address: 127.0.0.1
                services:
                  echo: {echo.Port}
            """);
        var agentA = await deployment.StartAgentAsync("lab-a", hosts);
        var agentMetrics = (await agentA.WaitForLineAsync(@"metrics on http://(\S+)/metrics", Signals.Timeout(10))).Groups[1].Value;
        var agentB = await deployment.StartAgentAsync("lab-b", hosts);

        await File.WriteAllTextAsync(secrets.File("scrape.token"), ScrapeToken);
        await using var prometheus = await PrometheusServer.StartAsync($"""
              - job_name: jumpgate
                static_configs:
                  - targets: ["{gatewayMetrics}"]
              - job_name: jumpgate-main-port
                scheme: https
                tls_config:
                  insecure_skip_verify: true
                authorization:
                  credentials_file: {secrets.File("scrape.token")}
                static_configs:
                  - targets: ["{new Uri(deployment.GatewayUrl).Authority}"]
              - job_name: jumpgate-agent
                static_configs:
                  - targets: ["{agentMetrics}"]
            """, output);

        Assert.True(await Signals.UntilAsync(async () => await prometheus.QueryAsync("""sum(jumpgate_agents_connected{job="jumpgate"})""") == 2, Signals.Timeout(30), TimeSpan.FromMilliseconds(500)),
            "Prometheus never saw both agents connected; targets: " + string.Join("; ", await prometheus.TargetsAsync()));
        var opened = await prometheus.QueryAsync("""sum(jumpgate_streams_total{job="jumpgate",result="opened"})""") ?? 0;

        const int Streams = 5;
        for (var i = 0; i < Streams; i++)
        {
            await using var stream = await TunnelClient.ConnectAsync(deployment.GatewayUrl, deployment.UserToken, "node1", "echo", Signals.Timeout(30));
            Assert.True(stream.Ok, stream.Error);
            Assert.Equal("ping"u8.ToArray(), await EchoServer.RoundTripAsync(stream.Stream, "ping"u8.ToArray(), Signals.Timeout(10)));
        }
        Assert.True(await Signals.UntilAsync(async () => await prometheus.QueryAsync("""sum(jumpgate_streams_total{job="jumpgate",result="opened"})""") >= opened + Streams, Signals.Timeout(30), TimeSpan.FromMilliseconds(500)),
            $"streams opened stayed at {await prometheus.QueryAsync("""sum(jumpgate_streams_total{job="jumpgate",result="opened"})""")} after {Streams} more from {opened}");
        Assert.True(await Signals.UntilAsync(async () => await prometheus.QueryAsync("""sum(jumpgate_stream_transferred_bytes_total{job="jumpgate",service="echo"})""") >= 2 * 4 * Streams, Signals.Timeout(30), TimeSpan.FromMilliseconds(500)),
            "the echo streams' bytes did not show");

        agentB.Signal(ChildProcess.SIGKILL);
        // The gateway notices a dead agent within three missed heartbeats (6 s); the next scrape shows it.
        Assert.True(await Signals.UntilAsync(async () => await prometheus.QueryAsync("""sum(jumpgate_agents_connected{job="jumpgate"})""") == 1, Signals.Timeout(30), TimeSpan.FromMilliseconds(500)),
            "agents connected did not fall to 1 after lab-b was killed");
        Assert.Equal(0, await prometheus.QueryAsync("""jumpgate_agents_connected{job="jumpgate",agent="lab-b"}"""));

        // The same series through the main port with the token, and the agent's own.
        Assert.True(await Signals.UntilAsync(async () => await prometheus.QueryAsync("""sum(jumpgate_streams_total{job="jumpgate-main-port",result="opened"})""") >= Streams, Signals.Timeout(30), TimeSpan.FromMilliseconds(500)),
            "Prometheus got nothing from the main port with the token; targets: " + string.Join("; ", await prometheus.TargetsAsync()));
        Assert.True(await Signals.UntilAsync(async () => await prometheus.QueryAsync("""jumpgate_agent_gateway_connected{job="jumpgate-agent"}""") == 1, Signals.Timeout(30), TimeSpan.FromMilliseconds(500)),
            "the agent's own /metrics did not show its gateway connection; targets: " + string.Join("; ", await prometheus.TargetsAsync()));
        output.WriteLine("targets: " + string.Join("; ", await prometheus.TargetsAsync()));
    }

    [Fact]
    public async Task TheMainPortRefusesMetricsWithoutTheScrapeToken()
    {
        using var secrets = new TempDirectory("jg-scrape");
        var tokenFile = secrets.File("metrics.token");
        await File.WriteAllTextAsync(tokenFile, ScrapeToken);
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using var deployment = await Deployment.StartAsync(output, gatewayYaml: $"""
            metrics:
              token_file: {tokenFile}
            """);
        using var http = new HttpClient(LoopbackHttpHandler.Create(await GatewayCertificateAsync(deployment))) { BaseAddress = new Uri(deployment.GatewayUrl) };

        foreach (var authorization in new AuthenticationHeaderValue?[] { null, new("Bearer", "scrape-wrong-token-0123456789"), new("Bearer", deployment.UserToken), new("Basic", ScrapeToken) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = authorization } };
            using var refused = await http.SendAsync(request);
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{authorization?.Scheme ?? "no token"}: {refused.StatusCode} {body}");
            Assert.Equal("", body);
        }
        using var scrape = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new("Bearer", ScrapeToken) } };
        using var answer = await http.SendAsync(scrape);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var text = await answer.Content.ReadAsStringAsync();
        // The refusals above are counted, as failed authentications of a scraper.
        Assert.Matches(@"(?m)^jumpgate_auth_failures_total\{kind=""scrape""\} [1-9]", text);
    }

    /// <summary>
    /// Every metric the Grafana board and the alert rules name exists in a real scrape of a gateway
    /// that has carried a stream, and promtool accepts the rules.
    /// </summary>
    [Fact]
    public async Task TheGrafanaBoardAndTheAlertsNameOnlyMetricsTheGatewayServes()
    {
        var root = RepositoryRoot();
        var board = await File.ReadAllTextAsync(Path.Combine(root, "deploy/grafana/jumpgate.json"));
        var alerts = await File.ReadAllTextAsync(Path.Combine(root, "deploy/prometheus/alerts.yml"));
        using var json = JsonDocument.Parse(board);
        var expressions = Expressions(json.RootElement).ToList();
        Assert.NotEmpty(expressions);

        await using var echo = new EchoServer();
        var (deployment, address) = await StartWithMetricsAsync(echo);
        await using var _ = deployment;
        await using (var stream = await TunnelClient.ConnectAsync(deployment.GatewayUrl, deployment.UserToken, "node1", "echo", Signals.Timeout(30)))
        {
            Assert.True(stream.Ok, stream.Error);
            await EchoServer.RoundTripAsync(stream.Stream, "ping"u8.ToArray(), Signals.Timeout(10));
        }
        await using (var refused = await TunnelClient.ConnectAsync(deployment.GatewayUrl, "jgu_nope_nope", "node1", "echo", Signals.Timeout(30)))
        {
            Assert.False(refused.Ok);
        }
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        string scrape = "";
        var names = new HashSet<string>();
        // The closed stream's end reaches the counters as the gateway sees the close: poll until the scrape has it.
        Assert.True(await Signals.UntilAsync(async () =>
        {
            scrape = await http.GetStringAsync(address);
            names = [.. SeriesName().Matches(scrape).Select(m => m.Groups[1].Value)];
            return names.Contains("jumpgate_stream_transferred_bytes_total") && names.Contains("jumpgate_auth_failures_total");
        }, Signals.Timeout(30)), "the scrape never showed the stream's bytes and the failed authentication:\n" + scrape);

        var used = expressions.Append(alerts).SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();
        output.WriteLine("named by the board and the alerts: " + string.Join(", ", used.Order()));
        var missing = used.Where(name => !names.Contains(name)).ToList();
        Assert.True(missing.Count == 0, $"not in a real scrape: {string.Join(", ", missing)}\n{scrape}");
        // Every panel shows something: a board that names none of our series would pass the check above.
        Assert.Contains("jumpgate_streams_total", used);

        if (!File.Exists("/usr/bin/promtool"))
        {
            output.WriteLine("SKIPPED promtool check: /usr/bin/promtool is missing (Debian's prometheus package has it)");
            return;
        }
        var check = await Command.RunAsync("/usr/bin/promtool", ["check", "rules", Path.Combine(root, "deploy/prometheus/alerts.yml")], Signals.Timeout(60), output: output);
        Assert.True(check.ExitCode == 0, check.ToString());
    }

    [Fact]
    public async Task AStreamInForwardsDirectSessionCountsItsBytesWhileItRuns()
    {
        await using var echo = new EchoServer();
        var (deployment, address) = await StartWithMetricsAsync(echo);
        await using var _ = deployment;
        await using var forward = ChildProcess.Start("forward", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "-v", "--local", "127.0.0.1:0"], output, deployment.ClientEnvironment);
        var bound = IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) -> node1:echo", Signals.Timeout(30))).Groups[1].Value);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(bound);
        var payload = new byte[256 * 1024];
        new Random(4).NextBytes(payload);
        Assert.Equal(payload, await EchoServer.RoundTripAsync(client.GetStream(), payload, Signals.Timeout(15)));
        await forward.WaitForLineAsync("node1:echo: direct, in a new direct session", Signals.Timeout(10));

        // The stream stays open: its bytes reach the counter from the agent's progress reports, not only at its close.
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        long toService = 0, toUser = 0;
        var counted = await Signals.UntilAsync(async () =>
        {
            var scrape = await http.GetStringAsync(address);
            (toService, toUser) = (Bytes(scrape, "to_service"), Bytes(scrape, "to_user"));
            return toService >= payload.Length && toUser >= payload.Length;
        }, Signals.Timeout(20), TimeSpan.FromMilliseconds(250));

        Assert.True(counted, $"while the stream was open the counter showed {toService} bytes to the service and {toUser} to the user, of {payload.Length} each way");
        Assert.Equal(payload[..4], await EchoServer.RoundTripAsync(client.GetStream(), payload[..4], Signals.Timeout(10)));
    }

    /// <summary>A deployment whose gateway serves its metrics on a loopback listener of its own (returned), and agent lab-a serving node1's echo.</summary>
    private async Task<(Deployment Deployment, string Address)> StartWithMetricsAsync(EchoServer echo)
    {
        var deployment = await Deployment.StartAsync(output, gatewayYaml: "metrics:\n  listen: 127.0.0.1:0");
        try
        {
            var address = (await deployment.Gateway!.WaitForLineAsync(@"metrics on (http://\S+/metrics)", Signals.Timeout(10))).Groups[1].Value;
            await deployment.StartAgentAsync("lab-a", $"""
                node1:
                  address: 127.0.0.1
                  services:
                    echo: {echo.Port}
                """);
            return (deployment, address);
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }
    }

    /// <summary>The scrape's bytes in one direction, all services together.</summary>
    private static long Bytes(string scrape, string direction) =>
        TransferredBytes().Matches(scrape).Where(m => m.Groups[1].Value == direction).Sum(m => long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

    [GeneratedRegex(@"(?m)^jumpgate_stream_transferred_bytes_total\{[^}]*direction=""([a-z_]+)""[^}]*\} ([0-9]+)")]
    private static partial Regex TransferredBytes();

    private static IEnumerable<string> Expressions(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        yield return property.Value.GetString()!;
                    }
                    foreach (var inner in Expressions(property.Value))
                    {
                        yield return inner;
                    }
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var inner in Expressions(item))
                    {
                        yield return inner;
                    }
                }
                break;
        }
    }

    private static async Task<System.Security.Cryptography.X509Certificates.X509Certificate2> GatewayCertificateAsync(Deployment deployment) =>
        System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(deployment.GatewayDir, "gateway.crt")));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Jumpgate.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("Jumpgate.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"\b(?:jumpgate|dotnet)_[a-z0-9_]+")]
    private static partial Regex MetricName();
}
