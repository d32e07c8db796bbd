using System.Text;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Environments;

/// <summary>
/// The conda side of `jumpgate env`: one host whose PATH holds a `conda` that answers with real captures
/// (`conda env list --json` with the environments of a real `conda info --json`, `conda list --json` of a
/// real Miniconda) and records every command it is given; another host with no conda at all.
/// </summary>
public sealed class CondaHostTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Prefix = "/home/sen/miniconda3/envs/awe_venv";

    private readonly TempDirectory _home = new("jg-conda");
    private LoopbackHosts _hosts = null!;

    private string Bin => _home.File("bin");

    private string Calls => _home.File("conda-calls.txt");

    private string Sent => _home.File("sent-environment.yml");

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "conda", name);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Bin);
        var envList = _home.File("env-list.json");
        await File.WriteAllTextAsync(envList, EnvListFromInfo(await File.ReadAllTextAsync(Fixture("conda-info-wsl2.json"))));
        var conda = Path.Combine(Bin, "conda");
        await File.WriteAllTextAsync(conda, $$"""
            #!/bin/sh
            printf '%s\n' "$*" >> '{{Calls}}'
            case "$1 $2 $3" in
              "env list --json") cat '{{envList}}' ;;
              "list --json -p")
                if [ "$4" = '{{Prefix}}' ]; then cat '{{Fixture("conda-list-osx64.json")}}'; else echo "EnvironmentLocationNotFound: $4" >&2; exit 1; fi ;;
              "env update --prune")
                while [ $# -gt 0 ]; do [ "$1" = --file ] && cp "$2" '{{Sent}}'; shift; done
                echo "Collecting package metadata (environment.yml): done" ;;
              *) echo "unexpected: $*" >&2; exit 2 ;;
            esac
            """);
        File.SetUnixFileMode(conda, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _hosts = await LoopbackHosts.StartAsync(output, _home.Path, sharedPath: null,
            ("gpu1", $"PATH={Bin}:/usr/bin:/bin", null),
            ("gpu2", "PATH=/usr/bin:/bin", null));
    }

    /// <summary>`conda env list --json` prints the same list `conda info --json` holds under envs.</summary>
    private static string EnvListFromInfo(string info)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WritePropertyName("envs");
            JsonDocument.Parse(info).RootElement.GetProperty("envs").WriteTo(json);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        _home.Dispose();
    }

    private Task<CommandResult> EnvAsync(params string[] arguments) =>
        Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable, ["env", .. arguments, "--hosts", "gpu1,gpu2", "--ssh-config", _hosts.ConfigPath], TimeSpan.FromSeconds(120),
            environment: new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = _home.File("config") },
            output: output);

    private async Task<string> SpecAsync(string name)
    {
        var path = _home.File($"{name}.yml");
        await File.WriteAllTextAsync(path, $"""
            name: {name}
            channels:
              - defaults
            dependencies:
              - python=3.9
              - requests=2.25
              - tqdm>=4.62
              - numpy=1.26
              - pkgs/main::openssl
            """);
        return path;
    }

    [Fact]
    public async Task ReadsTheEnvironmentWithCondaAndSyncSendsEnvUpdate()
    {
        var spec = await SpecAsync("awe_venv");

        var check = await EnvAsync("check", spec);
        Assert.True(check.ExitCode == 1, check.ToString());
        Assert.Matches(@"python=3\.9\s+ok\s+-", check.Stdout);
        Assert.Matches(@"requests=2\.25\s+ok\s+-", check.Stdout);
        Assert.Matches(@"tqdm>=4\.62\s+wrong: 4\.61\.2\s+-", check.Stdout);
        Assert.Matches(@"numpy=1\.26\s+missing\s+-", check.Stdout);
        Assert.Matches(@"pkgs/main::openssl\s+ok\s+-", check.Stdout);
        Assert.Contains($"gpu1  conda environment {Prefix}", check.Stdout);
        Assert.Contains("gpu2  no conda, mamba or micromamba on this host", check.Stdout);
        Assert.Equal(["env list --json", $"list --json -p {Prefix}"], await File.ReadAllLinesAsync(Calls));

        var dryRun = await EnvAsync("sync", spec, "--dry-run");
        Assert.Equal($"gpu1: {Bin}/conda env update --prune --prefix {Prefix} --file awe_venv.yml (sent on stdin)", dryRun.Stdout.Trim());
        Assert.Contains("gpu2: skipped, no conda", dryRun.Stderr);
        Assert.DoesNotContain(await File.ReadAllLinesAsync(Calls), c => c.StartsWith("env update", StringComparison.Ordinal));

        File.Delete(Calls);
        var sync = await EnvAsync("sync", spec, "--logs", _home.File("logs"));
        // The replayed capture does not change: the re-check still finds the same drift.
        Assert.True(sync.ExitCode == 1, sync.ToString());
        var calls = await File.ReadAllLinesAsync(Calls);
        Assert.Equal(5, calls.Length);
        Assert.Equal(["env list --json", $"list --json -p {Prefix}"], calls[..2]);
        Assert.Matches($@"^env update --prune --prefix {Prefix} --file /tmp/[^ ]+/environment\.yml$", calls[2]);
        Assert.Equal(["env list --json", $"list --json -p {Prefix}"], calls[3..]);
        Assert.Equal(await File.ReadAllTextAsync(spec) + "\n", await File.ReadAllTextAsync(Sent));
        Assert.Contains("Collecting package metadata", await File.ReadAllTextAsync(Path.Combine(_home.File("logs"), "gpu1.log")));
    }

    [Fact]
    public async Task AnEnvironmentTheHostLacksIsCreatedByName()
    {
        var spec = await SpecAsync("robodiff");

        var check = await EnvAsync("check", spec, "--json");
        Assert.Equal(1, check.ExitCode);
        var hosts = JsonDocument.Parse(check.Stdout).RootElement.GetProperty("hosts").EnumerateArray().ToDictionary(h => h.GetProperty("host").GetString()!, h => h.GetProperty("status").GetString());
        Assert.Equal("no_environment", hosts["gpu1"]);
        Assert.Equal("no_conda", hosts["gpu2"]);

        var dryRun = await EnvAsync("sync", spec, "--dry-run");
        Assert.Equal($"gpu1: {Bin}/conda env update --prune --file robodiff.yml (sent on stdin)", dryRun.Stdout.Trim());
    }
}
