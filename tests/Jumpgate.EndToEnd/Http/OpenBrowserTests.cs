using System.Net;
using System.Text.RegularExpressions;
using System.Web;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// `jumpgate open --browser` on a shared login node: the one-time code never reaches a process's
/// argv (which every local user sees with ps), yet the browser still ends signed in on the service.
/// The browser is a stand-in for xdg-open, first on PATH, that records its argv and the page it was
/// handed; the test then does what the browser would, with a real HTTP client.
/// </summary>
public sealed class OpenBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Opener = """
        #!/bin/sh
        # Records what xdg-open is handed: its argv, the page (what a browser could read), and the page's and its folder's modes.
        r="$JG_TEST_RECORD"
        cat "$1" > "$r/page" 2>/dev/null
        stat -c '%a' "$1" "$(dirname "$1")" > "$r/modes" 2>/dev/null
        printf '%s\n' "$@" > "$r/argv.tmp" && mv "$r/argv.tmp" "$r/argv"

        """;

    private readonly TempDirectory _scratch = new("jg-open");
    private HttpFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await HttpFixture.StartAsync(output);

    public async Task DisposeAsync()
    {
        await _fixture.DisposeAsync();
        _scratch.Dispose();
    }

    [Fact]
    public async Task TheBrowsersArgvHoldsNoCodeAndItsPageSignsItInOnTheService()
    {
        var (environment, record, runtime) = OpenerEnvironment();

        await using var open = ChildProcess.Start("open", TestSupport.Jumpgate.Executable, ["open", "node1", "web", "--browser"], output, environment);
        var signIn = new Uri((await open.WaitForLineAsync(@"sign in once \(valid \d+ minutes\): (\S+)", Signals.Timeout(60))).Groups[1].Value);
        var code = HttpUtility.ParseQueryString(signIn.Query)["code"]!;
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(File.Exists(Path.Combine(record, "argv"))), Signals.Timeout(30)), "xdg-open was never run");

        var argv = await File.ReadAllTextAsync(Path.Combine(record, "argv"));
        output.WriteLine($"xdg-open argv: {argv}");
        Assert.DoesNotContain(code, argv, StringComparison.Ordinal);
        Assert.DoesNotContain("http", argv, StringComparison.Ordinal);
        var page = await File.ReadAllTextAsync(Path.Combine(record, "page"));
        Assert.DoesNotContain(code, page, StringComparison.Ordinal);
        Assert.StartsWith(runtime + "/", argv.Trim(), StringComparison.Ordinal);
        Assert.Equal("600\n700\n", await File.ReadAllTextAsync(Path.Combine(record, "modes")));

        // What the browser does with the page: its refresh goes to a one-shot local redirect at a random path.
        var local = new Uri(Regex.Match(page, @"url=(http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{43})""").Groups[1].Value);
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        // Another local user knows the port (ss, /proc/net/tcp) but not the path: nothing for them.
        using (var probe = await http.GetAsync(new Uri(local, "/")))
        {
            Assert.Equal(HttpStatusCode.NotFound, probe.StatusCode);
            Assert.Null(probe.Headers.Location);
        }
        Uri redirectedTo;
        using (var redirect = await http.GetAsync(local))
        {
            Assert.Equal(HttpStatusCode.SeeOther, redirect.StatusCode);
            redirectedTo = redirect.Headers.Location!;
            Assert.Equal(signIn, redirectedTo);
        }

        Assert.Equal(0, await open.Exited.WaitAsync(Signals.Timeout(30)));
        Assert.False(Directory.Exists(Path.GetDirectoryName(argv.Trim())), "the page's folder is removed once the browser has followed it");
        // The browser follows the redirect to the link: it lands on the service's root (the test upstream answers 404 there), signed in.
        var (landed, visited) = await _fixture.Browser.FollowAsync(redirectedTo);
        landed.Dispose();
        Assert.Equal(_fixture.Browser.ServiceUri(HttpFixture.Label), visited[^1]);
        using var signedIn = await _fixture.Browser.Client.GetAsync(_fixture.Browser.ServiceUri(HttpFixture.Label, "/headers?after-open-browser"));
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.True(_fixture.Upstream.SawRequest("after-open-browser"));
    }

    [Fact]
    public async Task WithoutBrowserTheLinkIsPrintedAndNothingIsOpened()
    {
        var (environment, record, _) = OpenerEnvironment();

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["open", "node1", "web"], Signals.Timeout(60), environment, output: output);

        Assert.Equal(0, result.ExitCode);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(_fixture.Browser.ServiceUri(HttpFixture.Label).AbsoluteUri, lines[0]);
        var link = Assert.Single(Regex.Matches(lines[1], @"^sign in once \(valid 5 minutes\): (https://\S+code=\S+)$")).Groups[1].Value;
        Assert.False(File.Exists(Path.Combine(record, "argv")), "xdg-open ran without --browser");
        var (landed, visited) = await _fixture.Browser.FollowAsync(new Uri(link));
        landed.Dispose();
        Assert.Equal(_fixture.Browser.ServiceUri(HttpFixture.Label), visited[^1]);
        using var signedIn = await _fixture.Browser.Client.GetAsync(_fixture.Browser.ServiceUri(HttpFixture.Label, "/headers?after-printed-link"));
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
    }

    [Fact]
    public async Task AFailingOpenerIsReportedAndLeavesNoPageBehind()
    {
        var (environment, _, runtime) = OpenerEnvironment("#!/bin/sh\nexit 3\n");

        var result = await Command.RunAsync(TestSupport.Jumpgate.Executable, ["open", "node1", "web", "--browser"], Signals.Timeout(60), environment, output: output);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("xdg-open failed (exit 3); open the link above by hand", result.Stderr);
        Assert.Contains("sign in once (valid 5 minutes): https://", result.Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(runtime));
    }

    /// <summary>The logged-in user's environment with a stand-in xdg-open (the recording one by default) first on PATH and a fresh XDG_RUNTIME_DIR.</summary>
    private (Dictionary<string, string> Environment, string Record, string Runtime) OpenerEnvironment(string script = Opener)
    {
        var bin = _scratch.File("bin");
        var record = _scratch.File("record");
        var runtime = _scratch.File("runtime");
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(record);
        Directory.CreateDirectory(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var opener = Path.Combine(bin, "xdg-open");
        File.WriteAllText(opener, script);
        File.SetUnixFileMode(opener, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = new Dictionary<string, string>(_fixture.Deployment.ClientEnvironment)
        {
            ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["JG_TEST_RECORD"] = record,
            ["XDG_RUNTIME_DIR"] = runtime,
        };
        return (environment, record, runtime);
    }
}
