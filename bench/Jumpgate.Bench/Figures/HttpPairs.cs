using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// For working on the HTTP path (`--only=pairs`): two builds of `jumpgate`, the run's own (the
/// candidate) and the one <c>JUMPGATE_BENCH_BASELINE</c> names, each with gateways and agents of its
/// own, in alternated rounds of the HTTP figure (wrk through the subdomain, nginx in Jumpgate's
/// shape after them) and of the WebSocket round trip (`ssh -L` after them). Each round reports each
/// process's CPU per request, beside nginx's proxy and relay: on a machine shared with other work,
/// requests/s wander from round to round, CPU per request much less.
/// Optional: <c>JUMPGATE_BENCH_BASELINE_ENV</c> / <c>JUMPGATE_BENCH_CANDIDATE_ENV</c>
/// ("NAME=VALUE;…", given to that build's processes, so one build can be compared with itself under
/// another setting), <c>JUMPGATE_BENCH_PAIRS_ROUNDS</c>, and <c>JUMPGATE_BENCH_PAIRS_HOOK</c>: a
/// command started beside each build's HTTP run in the first two rounds (a profiler), with the
/// build's name, its gateway's and agent's process ids and the round.
/// </summary>
internal static class HttpPairs
{
    public const string BaselineVariable = "JUMPGATE_BENCH_BASELINE";
    private const string Figure = "HTTP path, two builds alternated";
    private const int MessageBytes = 300;

    private sealed class Build(string name, string executable)
    {
        public string Name => name;
        public string Executable => executable;
        public JumpgateRig Http { get; set; } = null!;
        public Http.WrkTarget Target { get; set; } = null!;
        public ClientWebSocket? WebSocket { get; set; }
        public List<(double Rps, double P99, double Gateway, double Agent)> Rounds { get; } = [];
        public List<double> Echoes { get; } = [];

        /// <summary>The settings this build's processes start with.</summary>
        public IReadOnlyList<(string Name, string Value)> Environment { get; } =
            [.. (System.Environment.GetEnvironmentVariable($"JUMPGATE_BENCH_{name.ToUpperInvariant()}_ENV") ?? "")
                .Split(';', StringSplitOptions.RemoveEmptyEntries)
                .Select(s => s.Split('=', 2))
                .Select(s => (s[0], s.Length > 1 ? s[1] : ""))];
    }

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var baseline = Environment.GetEnvironmentVariable(BaselineVariable);
        if (baseline is null || !File.Exists(baseline) || rig.Web is not { ShapePort: not 0 } web || Figures.Http.WrkPath is null)
        {
            table.Add(new Row(Figure, "peers", $"n/a (needs {BaselineVariable}, nginx with its stream module, and wrk)"));
            return;
        }
        var candidate = TestSupport.Jumpgate.Executable;
        Build[] builds = [new("baseline", Path.GetFullPath(baseline)), new("candidate", candidate)];
        await using var server = await HttpUpstream.StartAsync();
        var rigs = new List<JumpgateRig>();
        try
        {
            foreach (var build in builds)
            {
                // Child processes take the environment as it is when they start.
                TestSupport.Jumpgate.Executable = build.Executable;
                foreach (var (name, value) in build.Environment)
                {
                    Environment.SetEnvironmentVariable(name, value);
                }
                try
                {
                    build.Http = await JumpgateRig.StartAsync(new Dictionary<string, int> { [JumpgateRig.HttpService] = web.UpstreamPort });
                    rigs.Add(build.Http);
                    var socketRig = await JumpgateRig.StartAsync(new Dictionary<string, int> { [JumpgateRig.HttpService] = server.Port });
                    rigs.Add(socketRig);
                    var (port, host, cookie) = await build.Http.BrowserSessionAsync();
                    build.Target = new(build.Name, $"https://127.0.0.1:{port}/", ["-H", $"Host: {host}", "-H", $"Cookie: {cookie}"]);
                    // The echo server answers /headers (its root is 404): the sign-in lands there.
                    var (_, socketHost, socketCookie) = await socketRig.BrowserSessionAsync("/headers");
                    using var browser = new GatewayBrowser(socketRig.Deployment.GatewayUrl, socketRig.Deployment.Fingerprint);
                    build.WebSocket = await ThroughGatewayAsync(browser, socketHost, socketCookie);
                }
                finally
                {
                    TestSupport.Jumpgate.Executable = candidate;
                    foreach (var (name, _) in build.Environment)
                    {
                        Environment.SetEnvironmentVariable(name, null);
                    }
                }
            }
            var shape = new Http.WrkTarget("nginx in Jumpgate's shape", $"https://127.0.0.1:{web.ShapePort}/");
            var local = Sshd.FreePort();
            await rig.Ssh.TunnelAsync("ssh -L websocket pairs", ["-N", "-L", $"127.0.0.1:{local}:127.0.0.1:{server.Port}", "target"], local);
            using var ssh = new ClientWebSocket();
            using (var connecting = new CancellationTokenSource(Signals.Timeout(30)))
            {
                await ssh.ConnectAsync(new Uri($"ws://127.0.0.1:{local}/ws"), connecting.Token);
            }
            var message = Enumerable.Range(0, MessageBytes).Select(i => (byte)('a' + i % 26)).ToArray();
            foreach (var build in builds)
            {
                say($"pairs warm-up: {build.Name} {(await Http.WrkAsync(build.Target, plan.HttpWarmupSeconds)).Rps:0} req/s");
                await EchoAsync(build.WebSocket!, message, plan.WebSocketWarmup, []);
            }
            await Http.WrkAsync(shape, plan.HttpWarmupSeconds);
            await EchoAsync(ssh, message, plan.WebSocketWarmup, []);

            var nginxRounds = new List<(double Rps, double Proxy, double Relay)>();
            var sshEchoes = new List<double>();
            var rounds = int.TryParse(Environment.GetEnvironmentVariable("JUMPGATE_BENCH_PAIRS_ROUNDS"), out var asked) ? Math.Clamp(asked, 1, 50) : plan.HttpRounds * 3;
            var hook = Environment.GetEnvironmentVariable("JUMPGATE_BENCH_PAIRS_HOOK");
            for (var round = 1; round <= rounds; round++)
            {
                var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
                // The order turns each round, so neither build always runs right after the other's load.
                var order = round % 2 == 1 ? builds : [.. builds.Reverse()];
                foreach (var build in order)
                {
                    var (gatewayPid, agentPid) = (build.Http.Gateway.Id, build.Http.Agent!.Id);
                    if (hook is not null && round <= 2)
                    {
                        Process.Start(hook, [build.Name, gatewayPid.ToString(CultureInfo.InvariantCulture), agentPid.ToString(CultureInfo.InvariantCulture), round.ToString(CultureInfo.InvariantCulture)])?.Dispose();
                    }
                    var cpu = new ProcessCpu([("gateway", [gatewayPid]), ("agent", [agentPid])]);
                    var measured = await Http.WrkAsync(build.Target, plan.HttpSeconds);
                    var spent = cpu.Spent();
                    var (gateway, agent) = (spent[0].Milliseconds * 1000 / measured.Requests, spent[1].Milliseconds * 1000 / measured.Requests);
                    build.Rounds.Add((measured.Rps, measured.P99, gateway, agent));
                    say($"pairs round {round}/{rounds} (load {load}): {build.Name} {measured.Rps:0} req/s, p99 {Table.F(measured.P99)} ms, CPU per request gateway {gateway:0} µs, agent {agent:0} µs");
                }
                var nginxCpu = new ProcessCpu([("proxy", web.Pids("proxy")), ("relay", web.Pids("relay"))]);
                var nginx = await Http.WrkAsync(shape, plan.HttpSeconds);
                var nginxSpent = nginxCpu.Spent();
                nginxRounds.Add((nginx.Rps, nginxSpent[0].Milliseconds * 1000 / nginx.Requests, nginxSpent[1].Milliseconds * 1000 / nginx.Requests));
                say($"pairs round {round}/{rounds}: nginx in Jumpgate's shape {nginx.Rps:0} req/s, p99 {Table.F(nginx.P99)} ms, CPU per request proxy {nginxRounds[^1].Proxy:0} µs, relay {nginxRounds[^1].Relay:0} µs");
                foreach (var build in order)
                {
                    var before = build.Echoes.Count;
                    await EchoAsync(build.WebSocket!, message, plan.WebSocketMessages, build.Echoes);
                    say($"pairs round {round}/{rounds}: {build.Name} WebSocket p50 {Table.F(Stats.Median(build.Echoes[before..]))} ms, p99 {Table.F(Stats.Percentile(build.Echoes[before..], 99))} ms");
                }
                var sshBefore = sshEchoes.Count;
                await EchoAsync(ssh, message, plan.WebSocketMessages, sshEchoes);
                say($"pairs round {round}/{rounds}: ssh -L WebSocket p50 {Table.F(Stats.Median(sshEchoes[sshBefore..]))} ms, p99 {Table.F(Stats.Percentile(sshEchoes[sshBefore..], 99))} ms");
            }
            var nginxRps = Stats.Median([.. nginxRounds.Select(r => r.Rps)]);
            foreach (var build in builds)
            {
                var rps = Stats.Median([.. build.Rounds.Select(r => r.Rps)]);
                table.Add(new Row(Figure, build.Name,
                    $"{rps:0} req/s ({rps / nginxRps:0.00} × nginx in shape), p99 {Table.F(Stats.Median([.. build.Rounds.Select(r => r.P99)]))} ms, " +
                    $"CPU per request gateway {Stats.Median([.. build.Rounds.Select(r => r.Gateway)]):0} µs, agent {Stats.Median([.. build.Rounds.Select(r => r.Agent)]):0} µs; " +
                    $"WebSocket p50 / p99 {Table.F(Stats.Median(build.Echoes))} / {Table.F(Stats.Percentile(build.Echoes, 99))} ms ({Stats.Median(build.Echoes) / Stats.Median(sshEchoes):0.00} × ssh -L's p50)"));
            }
            table.Add(new Row(Figure, "nginx in Jumpgate's shape; ssh -L",
                $"{nginxRps:0} req/s, CPU per request proxy {Stats.Median([.. nginxRounds.Select(r => r.Proxy)]):0} µs, relay {Stats.Median([.. nginxRounds.Select(r => r.Relay)]):0} µs; " +
                $"WebSocket p50 / p99 {Table.F(Stats.Median(sshEchoes))} / {Table.F(Stats.Percentile(sshEchoes, 99))} ms"));
            table.Note($"Pairs: {rounds} rounds, the builds' order turning each round; medians of rounds; CPU from /proc/PID/stat over each wrk run, divided by its requests.");
        }
        finally
        {
            TestSupport.Jumpgate.Executable = candidate;
            foreach (var build in builds)
            {
                build.WebSocket?.Abort();
                build.WebSocket?.Dispose();
            }
            foreach (var started in rigs)
            {
                await started.DisposeAsync();
            }
        }
    }

    private static async Task<ClientWebSocket> ThroughGatewayAsync(GatewayBrowser browser, string host, string cookie)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", $"https://{host}");
        socket.Options.SetRequestHeader("Cookie", cookie);
        using var invoker = new HttpMessageInvoker(browser.Handler, disposeHandler: false);
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        await socket.ConnectAsync(new Uri($"wss://{host}/ws"), invoker, deadline.Token);
        return socket;
    }

    /// <summary>Sends <paramref name="count"/> messages one at a time, each after the last one's echo, and adds each round trip in ms.</summary>
    private static async Task EchoAsync(WebSocket socket, byte[] message, int count, List<double> samples)
    {
        var back = new byte[message.Length * 2];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, bound.Token);
            var received = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(back.AsMemory(received), bound.Token);
                received += result.Count;
            }
            while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close && received < back.Length);
            if (result.MessageType == WebSocketMessageType.Close || !back.AsSpan(0, received).SequenceEqual(message))
            {
                throw new InvalidOperationException("the WebSocket echo came back wrong");
            }
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
    }
}
