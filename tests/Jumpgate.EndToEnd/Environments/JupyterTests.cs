using System.Net;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Environments;

/// <summary>
/// `jumpgate jupyter HOST` against the real /usr/bin/jupyter (Debian's notebook) on a host that is an sshd
/// on loopback: the printed URL answers /api/status through the ssh forward, the token is in no argv,
/// and Ctrl-C (SIGINT to the CLI alone) leaves no Jupyter behind.
/// </summary>
public sealed class JupyterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _home = new("jg-jupyter");
    private LoopbackHosts _hosts = null!;

    public async Task InitializeAsync()
    {
        // Jupyter's runtime and settings go to the test's folder, not to the machine's /root.
        var jupyter = _home.File("jupyter");
        _hosts = await LoopbackHosts.StartAsync(output, _home.Path, sharedPath: null,
            ("node1", $"PATH=/usr/bin:/bin JUPYTER_RUNTIME_DIR={jupyter}/runtime JUPYTER_DATA_DIR={jupyter}/data JUPYTER_CONFIG_DIR={jupyter}/config IPYTHONDIR={jupyter}/ipython", null));
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        _home.Dispose();
    }

    [Fact]
    public async Task TheUrlReachesJupyterAndCtrlCStopsIt()
    {
        var notebooks = Directory.CreateDirectory(_home.File("notebooks")).FullName;
        await using var cli = ChildProcess.Start("jumpgate-jupyter", Jumpgate.TestSupport.Jumpgate.Executable,
            ["jupyter", "node1", "--no-browser", "--dir", notebooks, "--ssh-config", _hosts.ConfigPath], output);

        var url = await cli.WaitForLineAsync(@"^http://127\.0\.0\.1:(?<port>\d+)/\?token=(?<token>[0-9a-f]{48})$", Signals.Timeout(120));
        var started = await cli.WaitForLineAsync(@"^Jupyter notebook on node1, 127\.0\.0\.1:\d+ \(pid (?<pid>\d+)\)", Signals.Timeout(10));
        var (port, token, pid) = (url.Groups["port"].Value, url.Groups["token"].Value, int.Parse(started.Groups["pid"].Value, System.Globalization.CultureInfo.InvariantCulture));

        // No cookies: the wrong token below must be judged on its own, not on the session the right one opened.
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { Timeout = TimeSpan.FromSeconds(10) };
        using (var status = await http.GetAsync($"http://127.0.0.1:{port}/api/status?token={token}"))
        {
            Assert.Equal(HttpStatusCode.OK, status.StatusCode);
            Assert.Contains("\"started\"", await status.Content.ReadAsStringAsync());
        }
        using (var refused = await http.GetAsync($"http://127.0.0.1:{port}/api/contents?token=wrong"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        // The host (this machine, behind the sshd) runs it; its command line shows no token.
        var commandLine = (await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).Replace('\0', ' ');
        Assert.Contains("jupyter-notebook", commandLine);
        Assert.Contains("--ip=127.0.0.1", commandLine);
        Assert.DoesNotContain(token, commandLine);

        cli.Signal(ChildProcess.SIGINT);
        Assert.Equal(130, await cli.Exited.WaitAsync(Signals.Timeout(30)));
        Assert.True(await Signals.UntilAsync(() => Task.FromResult(!Directory.Exists($"/proc/{pid}")), Signals.Timeout(15)), $"Jupyter (pid {pid}) still runs after Ctrl-C");
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{port}/api/status"));
    }
}
