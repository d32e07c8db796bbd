using System.Diagnostics;
using System.Net.WebSockets;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// Jupyter as it feels: a small text message (the size of a kernel's execute request) echoed by a
/// WebSocket server behind the agent, one message at a time on one open WebSocket, as a notebook
/// waits for its kernel: through the service's subdomain (WSS to the gateway, signed in, through
/// the agent) against through `ssh -L` to the same server, rounds alternated.
/// </summary>
internal static class WebSocketRoundTrip
{
    private const string Figure = "WebSocket round trip (Jupyter as it feels), p50 / p99";
    private const string Direct = "direct (no relay; reference only)";
    private const string Subdomain = "**Jumpgate subdomain (WSS, signed in)**";
    private const string DotnetShapeName = ".NET in Jumpgate's shape (WSS to Kestrel and YARP, a TLS relay of SslStream and sockets; nothing of Jumpgate; reference)";
    private const string Target = "≤ 1.2 ×";

    /// <summary>A kernel's execute request for a short cell is a few hundred bytes of JSON.</summary>
    private const int MessageBytes = 300;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        await using var server = await HttpUpstream.StartAsync();
        await using var jumpgate = await JumpgateRig.StartAsync(new Dictionary<string, int> { [JumpgateRig.HttpService] = server.Port });
        // The echo server answers /headers (its root is 404): the sign-in lands there.
        var (_, host, cookie) = await jumpgate.BrowserSessionAsync("/headers");
        using var browser = new GatewayBrowser(jumpgate.Deployment.GatewayUrl, jumpgate.Deployment.Fingerprint);
        var local = Sshd.FreePort();
        await rig.Ssh.TunnelAsync("ssh -L websocket", ["-N", "-L", $"127.0.0.1:{local}:127.0.0.1:{server.Port}", "target"], local);

        // What .NET's own layers allow in the HTTP figure's shape (bench/Jumpgate.Bench.DotnetShape); absent when not built.
        await using var dotnet = await DotnetShape.StartAsync(server.Port, native: rig.NativeJumpgate is not null);

        using var deadline = new CancellationTokenSource(Signals.Timeout(60));
        List<(string Name, ClientWebSocket Socket)> sockets =
        [
            (Direct, await PlainAsync(server.Port, deadline.Token)),
            (PathNames.SshL, await PlainAsync(local, deadline.Token)),
            (Subdomain, await ThroughGatewayAsync(browser, host, cookie, deadline.Token)),
        ];
        if (dotnet is not null)
        {
            sockets.Add((DotnetShapeName, await ThroughDotnetShapeAsync(dotnet.Port, deadline.Token)));
        }
        try
        {
            var message = new byte[MessageBytes];
            Random.Shared.NextBytes(message);
            // Text, as Jupyter's messages are: printable bytes only.
            for (var i = 0; i < message.Length; i++)
            {
                message[i] = (byte)('a' + (message[i] % 26));
            }
            var samples = sockets.ToDictionary(s => s.Name, _ => new List<double>());
            // The thread hand-overs of each path's two middle processes, per message (both directions).
            var middle = new Dictionary<string, IReadOnlyList<(string Name, IReadOnlyList<int> Pids)>>
            {
                [Subdomain] = [.. jumpgate.Roles.Where(r => r.Name is "gateway" or "agent")],
            };
            if (dotnet is not null)
            {
                middle[DotnetShapeName] = dotnet.Processes;
            }
            var switches = middle.Keys.ToDictionary(name => name, _ => new List<(double First, double Second)>());
            foreach (var (_, socket) in sockets)
            {
                await EchoAsync(socket, message, plan.WebSocketWarmup, plan.LatencyRoundCap, []);
            }
            for (var round = 1; round <= plan.WebSocketRounds; round++)
            {
                // The order turns each round, so no path always runs right after another's load.
                foreach (var (name, socket) in round % 2 == 1 ? sockets : Enumerable.Reverse(sockets))
                {
                    var before = samples[name].Count;
                    var meter = middle.TryGetValue(name, out var processes) ? new ContextSwitches(processes) : null;
                    await EchoAsync(socket, message, plan.WebSocketMessages, plan.LatencyRoundCap, samples[name]);
                    var got = samples[name].Skip(before).ToList();
                    if (meter?.Made() is { } made && got.Count > 0)
                    {
                        switches[name].Add(((double)made[0].Switches / got.Count, (double)made[1].Switches / got.Count));
                    }
                    say($"websocket round {round}/{plan.WebSocketRounds}: {name} p50 {Table.F(Stats.Median(got))} ms, p99 {Table.F(Stats.Percentile(got, 99))} ms over {got.Count}");
                }
            }
            string Result(string name) => $"{Table.F(Stats.Median(samples[name]))} / {Table.F(Stats.Percentile(samples[name], 99))} ms (n = {samples[name].Count})";
            table.Add(new Row(Figure, Direct, Result(Direct)));
            table.Add(new Row(Figure, PathNames.SshL, Result(PathNames.SshL)));
            if (dotnet is not null)
            {
                var shape = samples[DotnetShapeName];
                table.Add(new Row(Figure, DotnetShapeName, Result(DotnetShapeName),
                    $"{Stats.Median(shape) / Stats.Median(samples[PathNames.SshL]):0.00} × / {Stats.Percentile(shape, 99) / Stats.Percentile(samples[PathNames.SshL], 99):0.00} × ssh -L (p50 / p99)"));
            }
            var (jg, ssh) = (samples[Subdomain], samples[PathNames.SshL]);
            table.Check(Figure, Result(Subdomain), Stats.Median(jg) / Stats.Median(ssh), $"{PathNames.SshL} (p50)", Target, atMost: true, 1.2, Subdomain);
            table.Check(Figure, Result(Subdomain), Stats.Percentile(jg, 99) / Stats.Percentile(ssh, 99), $"{PathNames.SshL} (p99)", Target, atMost: true, 1.2, Subdomain);
            string Each(string name) => $"{Stats.Median([.. switches[name].Select(c => c.First)]):0.0} + {Stats.Median([.. switches[name].Select(c => c.Second)]):0.0}";
            table.Note($"WebSocket round trip, thread wake-ups per message (both directions; context switches of every thread, /proc/PID/task/*/status, medians of the rounds): Jumpgate's gateway + agent {Each(Subdomain)}" +
                (dotnet is null ? "." : $"; .NET in the shape, proxy + relay {Each(DotnetShapeName)}. The .NET shape is bench/Jumpgate.Bench.DotnetShape ({(dotnet.Native ? "Native AOT" : "JIT")}), nothing of Jumpgate."));
            table.Note($"WebSocket round trip: a {MessageBytes}-byte text message echoed by a WebSocket server (Kestrel, in the benchmark's process) on one open WebSocket per path, the next sent when the echo is back; " +
                $"{plan.WebSocketRounds} alternated rounds of up to {plan.WebSocketMessages} messages after {plan.WebSocketWarmup} unmeasured ones. " +
                "The subdomain is WSS to the gateway with a signed-in session (HTTP/1.1 Upgrade, as Jupyter's page opens its kernel channel), then the agent's leg; `ssh -L` carries plain WS inside SSH to the same server.");
        }
        finally
        {
            foreach (var (_, socket) in sockets)
            {
                socket.Abort();
                socket.Dispose();
            }
        }
    }

    private static async Task<ClientWebSocket> PlainAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), cancellationToken);
        return socket;
    }

    private static async Task<ClientWebSocket> ThroughDotnetShapeAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        // The shape's throw-away certificate on loopback: the figure is the relaying, not the check.
        socket.Options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        await socket.ConnectAsync(new Uri($"wss://127.0.0.1:{port}/ws"), cancellationToken);
        return socket;
    }

    private static async Task<ClientWebSocket> ThroughGatewayAsync(GatewayBrowser browser, string host, string cookie, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        // As the notebook page opens it: its own origin, the session cookie; HTTP/1.1, as Jupyter's page does over HTTP/1.1 to its server.
        socket.Options.SetRequestHeader("Origin", $"https://{host}");
        socket.Options.SetRequestHeader("Cookie", cookie);
        using var invoker = new HttpMessageInvoker(browser.Handler, disposeHandler: false);
        await socket.ConnectAsync(new Uri($"wss://{host}/ws"), invoker, cancellationToken);
        return socket;
    }

    /// <summary>Sends <paramref name="count"/> messages one at a time (bounded by <paramref name="cap"/>), each after the last one's echo, and adds each round trip in ms.</summary>
    private static async Task EchoAsync(ClientWebSocket socket, byte[] message, int count, TimeSpan cap, List<double> samples)
    {
        var back = new byte[message.Length * 2];
        var clock = Stopwatch.StartNew();
        using var bound = new CancellationTokenSource(cap + TimeSpan.FromSeconds(10));
        for (var i = 0; i < count && clock.Elapsed < cap; i++)
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
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (result.MessageType == WebSocketMessageType.Close || !back.AsSpan(0, received).SequenceEqual(message))
            {
                throw new InvalidOperationException($"the WebSocket echo came back wrong ({result.MessageType}, {received} bytes, close {socket.CloseStatus})");
            }
            samples.Add(elapsed);
        }
    }
}
