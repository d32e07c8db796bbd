using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Environments;

/// <summary>
/// `jumpgate env check` and `env sync` against real Python environments: two hosts (sshds on loopback),
/// each with a venv of its own at the same path (a mount namespace per sshd), made by the test with
/// packages from wheels the test wrote, no package index anywhere (pip on the hosts is told --no-index
/// and where the wheels are). The second host drifts: one package at another version, one missing.
/// </summary>
public sealed class EnvTests(VenvTemplates templates, ITestOutputHelper output) : IClassFixture<VenvTemplates>, IAsyncLifetime
{
    private readonly TempDirectory _home = new("jg-env");
    private LoopbackHosts _hosts = null!;

    private string Wheelhouse => templates.Wheelhouse;

    private string Venv(int i) => _home.File($"venv{i}");

    private string SpecFile => _home.File("environment.yml");

    /// <summary>Where each host sees its own venv: the path --python names.</summary>
    private string SharedVenv => _home.File("venv");

    private string Python => Path.Combine(SharedVenv, "bin", "python");

    public async Task InitializeAsync()
    {
        // Each test changes its venvs (sync installs into the second): copies of the class's, made once.
        await templates.CopyAsync(1, Venv(1));
        await templates.CopyAsync(2, Venv(2));
        Directory.CreateDirectory(SharedVenv);
        _hosts = await LoopbackHosts.StartAsync(output, _home.Path, SharedVenv,
            ("node1", Environment, Venv(1)),
            ("node2", Environment, Venv(2)));
        await File.WriteAllTextAsync(SpecFile, """
            name: demo
            dependencies:
              - python>=3.8
              - pip
              - pip:
                - jgdemo-alpha==1.0.0
                - jgdemo-beta[fast]>=1.0
            """);
    }

    /// <summary>What a login on a host sees: pip pointed at the local wheels only.</summary>
    private string Environment => $"PIP_NO_INDEX=1 PIP_FIND_LINKS={Wheelhouse} PIP_DISABLE_PIP_VERSION_CHECK=1";

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        _home.Dispose();
    }

    private Task<CommandResult> EnvAsync(params string[] arguments) =>
        Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable, ["env", .. arguments, "--hosts", "node1,node2", "--ssh-config", _hosts.ConfigPath, "--python", Python], TimeSpan.FromSeconds(120),
            environment: new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = _home.File("config") },
            output: output);

    private static Dictionary<(string Package, string Host), (string State, string? Installed)> Cells(string json)
    {
        var cells = new Dictionary<(string, string), (string, string?)>();
        foreach (var package in JsonDocument.Parse(json).RootElement.GetProperty("packages").EnumerateArray())
        {
            foreach (var host in package.GetProperty("hosts").EnumerateObject())
            {
                cells[(package.GetProperty("package").GetString()!, host.Name)] = (host.Value.GetProperty("state").GetString()!, host.Value.GetProperty("installed").GetString());
            }
        }
        return cells;
    }

    [Fact]
    public async Task CheckNamesTheDriftingCellsAndSyncBringsTheHostBack()
    {
        var check = await EnvAsync("check", SpecFile, "--json");

        Assert.True(check.ExitCode == 1, check.ToString());
        var cells = Cells(check.Stdout);
        var drifting = cells.Where(c => c.Value.State != "ok").ToDictionary(c => c.Key, c => c.Value);
        Assert.Equal(2, drifting.Count);
        Assert.Equal(("wrong_version", "2.0.0"), drifting[("jgdemo-alpha==1.0.0", "node2")]);
        Assert.Equal(("missing", null), drifting[("jgdemo-beta[fast]>=1.0", "node2")]);
        Assert.Equal(("ok", "1.0.0"), cells[("jgdemo-alpha==1.0.0", "node1")]);
        Assert.Equal(8, cells.Count);

        // The matrix as a person reads it: packages down, hosts across.
        var matrix = await EnvAsync("check", SpecFile);
        Assert.Equal(1, matrix.ExitCode);
        Assert.Matches(@"pip: jgdemo-alpha==1\.0\.0\s+ok\s+wrong: 2\.0\.0", matrix.Stdout);
        Assert.Matches(@"pip: jgdemo-beta\[fast\]>=1\.0\s+ok\s+missing", matrix.Stdout);
        Assert.Contains($"node2  python 3.", matrix.Stdout);
        Assert.Contains($"({Python})", matrix.Stdout);

        var dryRun = await EnvAsync("sync", SpecFile, "--dry-run");
        Assert.Equal(1, dryRun.ExitCode);
        Assert.Equal($"node2: {Python} -m pip install -r requirements.txt (the pip: list of environment.yml, sent on stdin)", dryRun.Stdout.Trim());
        Assert.Contains("node1: no drift", dryRun.Stderr);

        var logs = _home.File("logs");
        var sync = await EnvAsync("sync", SpecFile, "--logs", logs);
        Assert.True(sync.ExitCode == 0, sync.ToString());
        Assert.Contains("no drift", sync.Stdout);
        Assert.Contains("Successfully installed jgdemo-alpha-1.0.0 jgdemo-beta-1.1.0", await File.ReadAllTextAsync(Path.Combine(logs, "node2.log")));
        Assert.False(File.Exists(Path.Combine(logs, "node1.log")));

        var after = await EnvAsync("check", SpecFile, "--json");
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.All(Cells(after.Stdout).Values, cell => Assert.Equal("ok", cell.State));
    }

    [Fact]
    public async Task ExtraListsWhatTheFileDoesNotNameAndAnUnreachableHostIsNotChecked()
    {
        var alphaOnly = _home.File("alpha.yml");
        await File.WriteAllTextAsync(alphaOnly, "dependencies:\n  - pip:\n    - jgdemo-alpha\n");
        var extra = await EnvAsync("check", alphaOnly, "--extra", "--json");
        Assert.True(extra.ExitCode == 1, extra.ToString());
        var cells = Cells(extra.Stdout);
        Assert.Equal(("extra", "1.1.0"), cells[("jgdemo-beta", "node1")]);
        Assert.Equal(("absent", null), cells[("jgdemo-beta", "node2")]);
        Assert.Equal(("ok", "2.0.0"), cells[("jgdemo-alpha", "node2")]);
        Assert.DoesNotContain(cells, c => c.Key.Package is "pip" or "setuptools");

        // A host the config names but nobody answers: exit 2, with ssh's reason on that host's line.
        var config = await File.ReadAllTextAsync(_hosts.ConfigPath);
        await File.WriteAllTextAsync(_hosts.ConfigPath, $"Host node3\n    HostName 127.0.0.1\n    Port {Sshd.FreePort()}\n" + config);
        var result = await Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable, ["env", "check", SpecFile, "--hosts", "node1,node3", "--ssh-config", _hosts.ConfigPath, "--python", Python], TimeSpan.FromSeconds(120), output: output);
        Assert.Equal(2, result.ExitCode);
        Assert.Matches(@"node3\s+could not check: .*(refused|closed)", result.Stdout);
        Assert.Contains("1 not checked", result.Stdout);
    }

    [Fact]
    public async Task ExportWritesAHostsPipPackagesAsASpecTheOtherHostCanBeCheckedAgainst()
    {
        var spec = _home.File("exported.yml");
        var export = await Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable,
            ["env", "export", "--host", "node1", "--ssh-config", _hosts.ConfigPath, "--python", Python, "--name", "demo", "-o", spec], TimeSpan.FromSeconds(120), output: output);
        Assert.True(export.ExitCode == 0, export.ToString());
        var text = await File.ReadAllTextAsync(spec);
        Assert.Contains("    - jgdemo-alpha==1.0.0\n    - jgdemo-beta==1.1.0\n", text);

        var check = await EnvAsync("check", spec, "--json");
        Assert.Equal(1, check.ExitCode);
        var drifting = Cells(check.Stdout).Where(c => c.Value.State != "ok").Select(c => c.Key).Order().ToList();
        Assert.Equal([("jgdemo-alpha==1.0.0", "node2"), ("jgdemo-beta==1.1.0", "node2")], drifting);
    }
}
