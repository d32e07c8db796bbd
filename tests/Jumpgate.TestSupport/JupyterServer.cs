using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>A request Jupyter logged when it finished answering it.</summary>
public sealed record JupyterRequest(int Status, string Method, string Uri);

/// <summary>
/// Debian's Jupyter Notebook, started the way people start it on a GPU box
/// (<c>jupyter notebook --ip=127.0.0.1 --port=N --no-browser</c>) with its default security:
/// its own random token, XSRF checks on, remote access off (so it refuses a <c>Host</c> that is
/// not loopback). Config, runtime and data live in a throw-away HOME. Debug logging is on, so
/// every request Jupyter answered shows up in <see cref="Requests"/>.
/// </summary>
public sealed partial class JupyterServer : IAsyncDisposable
{
    /// <summary>Debian's launcher; the python3 first on PATH may be another build that lacks the notebook package.</summary>
    public const string JupyterPath = "/usr/bin/jupyter";

    private readonly TempDirectory _home = new("jg-jupyter");
    private ChildProcess? _process;

    private JupyterServer()
    {
        Token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        RootDir = Path.Combine(_home.Path, "notebooks");
        Directory.CreateDirectory(RootDir);
    }

    public int Port { get; private set; }

    /// <summary>Jupyter's own token (passed through JUPYTER_TOKEN, so it is not in the process list).</summary>
    public string Token { get; }

    /// <summary>The notebook directory: files put here show in the tree page.</summary>
    public string RootDir { get; }

    /// <summary><c>http://127.0.0.1:port/</c></summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{Port}/");

    /// <summary>Everything Jupyter printed so far, for assertions on its warnings ("Blocking request with non-local 'Host'").</summary>
    public IReadOnlyList<string> Lines => _process?.Lines ?? [];

    /// <summary>Every request Jupyter has finished answering, in the order it logged them.</summary>
    /// <remarks>
    /// Jupyter logs a request when it has answered it (a kernel WebSocket as <c>101 GET …/channels</c>
    /// once the upgrade is done, after Jupyter has asked the kernel for its info), so a request still
    /// in flight is not here yet; see <see cref="SyncLogAsync"/>.
    /// </remarks>
    public IReadOnlyList<JupyterRequest> Requests =>
        [.. Lines.Select(l => RequestLine().Match(l)).Where(m => m.Success).Select(ParseRequest)];

    /// <summary>Whether Jupyter logged any request whose URI (path and query) contains <paramref name="pathFragment"/>.</summary>
    public bool SawRequest(string pathFragment) =>
        Requests.Any(r => r.Uri.Contains(pathFragment, StringComparison.Ordinal));

    public static async Task<JupyterServer> StartAsync(ITestOutputHelper? output, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(JupyterPath))
        {
            throw new InvalidOperationException($"{JupyterPath} is missing; install Debian's jupyter-notebook and python3-ipykernel (test.sh does)");
        }
        var server = new JupyterServer();
        try
        {
            await server.StartCoreAsync(output, cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(ITestOutputHelper? output, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = _home.Path,
            ["JUPYTER_CONFIG_DIR"] = Directory.CreateDirectory(_home.File("config")).FullName,
            ["JUPYTER_DATA_DIR"] = Directory.CreateDirectory(_home.File("data")).FullName,
            ["JUPYTER_RUNTIME_DIR"] = Directory.CreateDirectory(_home.File("runtime")).FullName,
            ["IPYTHONDIR"] = Directory.CreateDirectory(_home.File("ipython")).FullName,
            ["JUPYTER_TOKEN"] = Token,
            // ipykernel's debugger otherwise prints four lines about frozen modules for every kernel.
            ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1",
        };
        for (var attempt = 0; attempt < 5; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Port = Sshd.FreePort();
            var arguments = new List<string>
            {
                "notebook", "--ip=127.0.0.1", $"--port={Port}", "--no-browser",
                // By default Jupyter quietly moves to the next free port; fail instead, and pick again here.
                "--port-retries=0",
                $"--notebook-dir={RootDir}",
                // Every finished request is logged at debug level ("200 GET /api (127.0.0.1) 0.51ms").
                "--debug",
            };
            if (Environment.UserName == "root")
            {
                // Jupyter refuses to run as root without it; containers on GPU boxes often are root.
                arguments.Add("--allow-root");
            }
            _process = ChildProcess.Start("jupyter", JupyterPath, arguments, output, environment, _home.Path);
            try
            {
                // Printed once the listening socket is bound.
                await _process.WaitForLineAsync(@"Jupyter Notebook \S+ is running at:", Signals.Timeout(60)).WaitAsync(cancellationToken);
                return;
            }
            catch (TimeoutException) when (_process.Exited.IsCompleted && attempt < 4 && _process.Output.Contains("is already in use", StringComparison.Ordinal))
            {
                // Another process took the port between our probe and Jupyter's bind; pick another.
                await _process.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Makes one request straight to Jupyter and waits until Jupyter has logged it. Jupyter
    /// logs requests in the order it finishes them, so once this returns every request that
    /// Jupyter had answered before it is in <see cref="Requests"/>: a test asserting that a
    /// refused request never reached Jupyter calls this first.
    /// </summary>
    public async Task SyncLogAsync(CancellationToken cancellationToken = default)
    {
        var marker = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        using var http = new HttpClient { Timeout = Signals.Timeout(30) };
        using var response = await http.GetAsync(new Uri(BaseUrl, $"api?sync={marker}"), cancellationToken);
        response.EnsureSuccessStatusCode();
        await _process!.WaitForLineAsync($@"GET /api\?sync={marker} ", Signals.Timeout(30)).WaitAsync(cancellationToken);
    }

    /// <summary>Waits until Jupyter logs a finished request whose URI contains <paramref name="pathFragment"/>.</summary>
    public async Task<JupyterRequest> WaitForRequestAsync(string pathFragment, TimeSpan timeout) =>
        ParseRequest(await _process!.WaitForLineAsync(RequestPattern.Replace(@"\S+", @"\S*" + Regex.Escape(pathFragment) + @"\S*", StringComparison.Ordinal), timeout));

    /// <summary>
    /// Notebook 6's request log line: <c>[D 13:11:49.261 NotebookApp] 200 GET /api/kernels (127.0.0.1) 7.520000ms</c>
    /// (debug for 2xx/304, info for 3xx, warning for 4xx with <c>referer=</c>, error for 5xx). The IP is always the
    /// peer's: Jupyter does not trust X-Forwarded-For unless told to.
    /// </summary>
    private const string RequestPattern = @"^\[[DIWEC] [\d:.]+ NotebookApp\] (?<status>\d{3}) (?<method>[A-Z]+) (?<uri>\S+) \(";

    [GeneratedRegex(RequestPattern)]
    private static partial Regex RequestLine();

    private static JupyterRequest ParseRequest(Match match) =>
        new(int.Parse(match.Groups["status"].Value), match.Groups["method"].Value, match.Groups["uri"].Value);

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            // SIGTERM first: Jupyter then shuts its kernels down itself. A SIGKILL would orphan them
            // (python3 -m ipykernel_launcher), and their parent poller only notices when reparented to pid 1.
            _process.Signal(ChildProcess.SIGTERM);
            await Task.WhenAny(_process.Exited, Task.Delay(Signals.Timeout(15)));
            await _process.DisposeAsync();
        }
        _home.Dispose();
    }
}
