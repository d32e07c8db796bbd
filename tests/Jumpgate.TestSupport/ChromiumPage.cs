using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// One live headless Chromium tab driven over the DevTools protocol (a WebSocket, no driver
/// package): navigate, run a script in the page as a person's clicks and typing would, and read
/// what the browser itself reported (a blocked form, a refused certificate). Where <see cref="Chromium"/>
/// loads a page once and prints it, this keeps one browser across steps, cookies and all.
/// </summary>
public sealed class ChromiumPage : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TempDirectory _profile;
    private readonly ClientWebSocket _socket;
    private readonly ITestOutputHelper? _output;
    private readonly List<string> _messages = [];
    private int _nextId;

    private ChromiumPage(Process process, TempDirectory profile, ClientWebSocket socket, ITestOutputHelper? output)
    {
        _process = process;
        _profile = profile;
        _socket = socket;
        _output = output;
    }

    /// <summary>The browser's main process (its renderers and helpers are its descendants), for a measure of its CPU.</summary>
    public int ProcessId => _process.Id;

    /// <summary>What the browser reported on its console and log (CSP violations, failed loads), in order.</summary>
    public IReadOnlyList<string> Messages => _messages;

    /// <param name="trustedSpki">The one certificate to trust, as <see cref="Chromium.SpkiHash(string)"/> gives it.</param>
    public static async Task<ChromiumPage> StartAsync(ITestOutputHelper? output, string trustedSpki, CancellationToken cancellationToken = default)
    {
        var profile = new TempDirectory("jg-chromium-page");
        var start = new ProcessStartInfo(Chromium.ChromiumPath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic", "--log-level=3",
            $"--user-data-dir={profile.Path}", $"--ignore-certificate-errors-spki-list={trustedSpki}",
            // Port 0: Chromium picks one and writes it to DevToolsActivePort in the profile.
            "--remote-debugging-port=0", "about:blank",
        })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var socket = new ClientWebSocket();
        try
        {
            var portFile = Path.Combine(profile.Path, "DevToolsActivePort");
            if (!await Signals.UntilAsync(() => Task.FromResult(File.Exists(portFile) && File.ReadAllLines(portFile).Length >= 2), Signals.Timeout(60)))
            {
                throw new InvalidOperationException("chromium opened no DevTools port within 60 s");
            }
            var port = int.Parse(File.ReadAllLines(portFile)[0], System.Globalization.CultureInfo.InvariantCulture);
            using var http = new HttpClient();
            var targets = JsonNode.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/json/list"), cancellationToken))!.AsArray();
            var page = targets.First(t => (string?)t!["type"] == "page")!;
            await socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), cancellationToken);
            var tab = new ChromiumPage(process, profile, socket, output);
            await tab.CallAsync("Page.enable", null, cancellationToken);
            await tab.CallAsync("Log.enable", null, cancellationToken);
            await tab.CallAsync("Runtime.enable", null, cancellationToken);
            return tab;
        }
        catch
        {
            socket.Dispose();
            process.Kill(entireProcessTree: true);
            process.Dispose();
            profile.Dispose();
            throw;
        }
    }

    /// <summary>Goes to <paramref name="url"/> and returns once the page (after any redirects) has loaded.</summary>
    public async Task NavigateAsync(Uri url, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        var loaded = WaitForEventAsync("Page.loadEventFired", cancellationToken);
        await CallAsync("Page.navigate", new JsonObject { ["url"] = url.AbsoluteUri }, cancellationToken);
        await loaded;
    }

    /// <summary>
    /// Runs <paramref name="script"/> in the page as the user's action (a click or a form
    /// submission) and returns once the navigation it starts has loaded its final page.
    /// </summary>
    public async Task ActAndWaitForLoadAsync(string script, CancellationToken cancellationToken = default)
    {
        var loaded = WaitForEventAsync("Page.loadEventFired", cancellationToken);
        await EvaluateAsync(script, cancellationToken);
        await loaded;
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its value as text ("" for undefined).</summary>
    public async Task<string> EvaluateAsync(string expression, CancellationToken cancellationToken = default)
    {
        var reply = await CallAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true }, cancellationToken);
        if (reply["exceptionDetails"] is { } exception)
        {
            throw new InvalidOperationException($"the page's script failed: {exception.ToJsonString()}");
        }
        var value = reply["result"]?["value"];
        return value is null ? "" : value.GetValueKind() == JsonValueKind.String ? (string)value! : value.ToJsonString();
    }

    /// <summary>
    /// Runs <paramref name="script"/> (a click on a button that asks with <c>confirm()</c>), waits
    /// for the dialog and accepts it, as a person clicking OK would; returns the dialog's words.
    /// </summary>
    public async Task<string> AcceptDialogAsync(string script, CancellationToken cancellationToken = default)
    {
        var opening = WaitForEventAsync("Page.javascriptDialogOpening", cancellationToken);
        // Later, not within the call: the dialog blocks the page's script until it is answered.
        await EvaluateAsync($"setTimeout(() => {{ {script} }}, 0)", cancellationToken);
        var dialog = await opening;
        await CallAsync("Page.handleJavaScriptDialog", new JsonObject { ["accept"] = true }, cancellationToken);
        return (string?)dialog["message"] ?? "";
    }

    /// <summary>
    /// Saves a PNG of the page as a <paramref name="width"/>-pixel-wide screen shows it (a phone's
    /// width is a mobile viewport), at <paramref name="pngPath"/> under <see cref="Chromium.ArtifactsDirectory"/>
    /// when relative; returns the full path.
    /// </summary>
    public async Task<string> ScreenshotAsync(string pngPath, int width, int height, CancellationToken cancellationToken = default)
    {
        var path = Path.GetFullPath(pngPath, Chromium.ArtifactsDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await CallAsync("Emulation.setDeviceMetricsOverride", new JsonObject
        {
            ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = width < 600,
        }, cancellationToken);
        try
        {
            var shot = await CallAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true }, cancellationToken);
            await File.WriteAllBytesAsync(path, Convert.FromBase64String((string)shot["data"]!), cancellationToken);
        }
        finally
        {
            await CallAsync("Emulation.clearDeviceMetricsOverride", null, cancellationToken);
        }
        try
        {
            _output?.WriteLine($"[chromium page] screenshot at {width}x{height}: {path}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished; its output helper no longer takes lines.
        }
        return path;
    }

    /// <summary>The page's address now.</summary>
    public Task<string> LocationAsync(CancellationToken cancellationToken = default) => EvaluateAsync("location.href", cancellationToken);

    private readonly Dictionary<string, List<TaskCompletionSource<JsonNode>>> _eventWaiters = [];
    private readonly Dictionary<int, TaskCompletionSource<JsonNode>> _calls = [];
    private Task? _reader;

    private Task<JsonNode> WaitForEventAsync(string method, CancellationToken cancellationToken)
    {
        var signal = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_eventWaiters)
        {
            if (!_eventWaiters.TryGetValue(method, out var waiters))
            {
                _eventWaiters[method] = waiters = [];
            }
            waiters.Add(signal);
        }
        return signal.Task.WaitAsync(Signals.Timeout(60), cancellationToken);
    }

    private async Task<JsonNode> CallAsync(string method, JsonObject? parameters, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_calls)
        {
            _calls[id] = reply;
        }
        _reader ??= ReadLoopAsync();
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, cancellationToken);
        var answer = await reply.Task.WaitAsync(Signals.Timeout(60), cancellationToken);
        return answer["error"] is { } error ? throw new InvalidOperationException($"{method}: {error.ToJsonString()}") : answer["result"] ?? new JsonObject();
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var text = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var received = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                text.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                {
                    continue;
                }
                var message = JsonNode.Parse(text.ToArray())!;
                text.SetLength(0);
                Dispatch(message);
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The browser went away (disposed); every waiter times out on its own bound.
        }
    }

    private void Dispatch(JsonNode message)
    {
        if (message["id"] is { } id)
        {
            TaskCompletionSource<JsonNode>? call;
            lock (_calls)
            {
                _calls.Remove((int)id, out call);
            }
            call?.TrySetResult(message);
            return;
        }
        var method = (string?)message["method"] ?? "";
        var parameters = message["params"] ?? new JsonObject();
        if (method is "Log.entryAdded" && (string?)parameters["entry"]?["text"] is { } entry)
        {
            Record(entry);
        }
        else if (method is "Runtime.consoleAPICalled")
        {
            Record(parameters["args"]?.ToJsonString() ?? "");
        }
        List<TaskCompletionSource<JsonNode>>? waiters;
        lock (_eventWaiters)
        {
            _eventWaiters.Remove(method, out waiters);
        }
        foreach (var waiter in waiters ?? [])
        {
            waiter.TrySetResult(parameters);
        }
    }

    private void Record(string text)
    {
        lock (_messages)
        {
            _messages.Add(text);
        }
        try
        {
            _output?.WriteLine($"[chromium page] {text.Trim()}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished; its output helper no longer takes lines.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(Signals.Timeout(10));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // Already gone.
        }
        _socket.Dispose();
        if (_reader is not null)
        {
            await _reader;
        }
        _process.Dispose();
        _profile.Dispose();
    }
}
