using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.EndToEnd.Deploy;

/// <summary>
/// The files in deploy/, checked by the tools that will read them, as Debian ships those tools:
/// systemd-analyze and systemd-sysusers for the units, docker-compose (or the docker CLI's compose
/// plugin) for the stack file. The image itself is built only where a Docker engine runs, which
/// this machine's sandbox has none of (deploy/README.md).
/// </summary>
public sealed class DeployFilesTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string Deploy = Path.Combine(RepositoryRoot(), "deploy");

    private readonly TempDirectory _root = new("jg-deploy");

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task TheSystemdUnitsPassSystemdAnalyzeVerifyWithoutAWarning()
    {
        var root = await SystemdRootAsync();

        var result = await Command.RunAsync("systemd-analyze", ["verify", "--root=" + root, "jumpgate-gateway.service", "jumpgate-agent.service"], Signals.Timeout(60), output: output);

        Assert.Equal(0, result.ExitCode);
        // systemd-analyze exits 0 on a setting it ignores; a misspelt or misvalued line shows only here.
        Assert.Equal("", result.Stderr.Trim());
        foreach (var unit in new[] { "jumpgate-gateway.service", "jumpgate-agent.service" })
        {
            var lines = File.ReadAllLines(Path.Combine(Deploy, "systemd", unit));
            Assert.Contains("Restart=always", lines);
            Assert.Contains("NoNewPrivileges=yes", lines);
            Assert.Contains("ProtectSystem=strict", lines);
        }
        Assert.Contains("StateDirectory=jumpgate-gateway", File.ReadAllLines(Path.Combine(Deploy, "systemd", "jumpgate-gateway.service")));
        Assert.Contains("DynamicUser=yes", File.ReadAllLines(Path.Combine(Deploy, "systemd", "jumpgate-agent.service")));
    }

    [Fact]
    public async Task SystemdAnalyzeVerifyWouldSeeAMistake()
    {
        var root = await SystemdRootAsync();
        var unit = Path.Combine(root, "etc/systemd/system/jumpgate-agent.service");
        await File.WriteAllTextAsync(unit, (await File.ReadAllTextAsync(unit)).Replace("ProtectSystem=strict", "ProtectSytem=strict", StringComparison.Ordinal));

        var result = await Command.RunAsync("systemd-analyze", ["verify", "--root=" + root, "jumpgate-agent.service"], Signals.Timeout(60), output: output);

        Assert.Contains("ProtectSytem", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSysusersFileMakesTheGatewaysUserWithItsStateDirectoryAsHome()
    {
        Directory.CreateDirectory(_root.File("etc"));

        var result = await Command.RunAsync("systemd-sysusers", ["--root=" + _root.Path, Path.Combine(Deploy, "systemd", "jumpgate.sysusers.conf")], Signals.Timeout(60), output: output);

        Assert.Equal(0, result.ExitCode);
        var user = Assert.Single(File.ReadAllLines(_root.File("etc/passwd")), l => l.StartsWith("jumpgate:", StringComparison.Ordinal)).Split(':');
        Assert.Equal(("/var/lib/jumpgate-gateway", "/usr/sbin/nologin"), (user[5], user[6]));
    }

    [Fact]
    public async Task TheStackFileHasTwoGatewaysOnPostgresAndAnAgentEachWithAHealthCheck()
    {
        var result = await ComposeAsync(["config"], new() { ["POSTGRES_PASSWORD"] = "not-a-real-password" });

        Assert.Equal(0, result.ExitCode);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(result.Stdout));
        var services = (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["services"];
        foreach (var name in new[] { "postgres", "gateway1", "gateway2", "agent" })
        {
            var service = (YamlMappingNode)services[name];
            Assert.True(service.Children.ContainsKey("healthcheck"), $"{name} has no health check");
            Assert.Equal("always", ((YamlScalarNode)service["restart"]).Value);
        }
        foreach (var gateway in new[] { "gateway1", "gateway2" })
        {
            var command = ((YamlSequenceNode)((YamlMappingNode)services[gateway])["command"]).Select(n => ((YamlScalarNode)n).Value);
            Assert.Equal(["gateway", "run", "--dir", "/var/lib/jumpgate"], command);
        }
        // Both gateways' directories are made on the one store, the second with the first's certificate.
        var init = ((YamlScalarNode)((YamlSequenceNode)((YamlMappingNode)services["gateway-init"])["command"]).Single()).Value!;
        Assert.Contains("--store postgres://jumpgate@postgres:5432/jumpgate --certificate-from /gw1", init, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-real-password", init, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheStackFileRefusesToStartWithoutADatabasePassword()
    {
        var result = await ComposeAsync(["config", "--quiet"], new() { ["POSTGRES_PASSWORD"] = "" });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("set POSTGRES_PASSWORD", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void TheImageIsBuiltInStagesAndRunsTheNativeBinaryAsANonRootUser()
    {
        var lines = File.ReadAllLines(Path.Combine(Deploy, "Dockerfile")).Select(l => l.Trim()).ToList();

        Assert.Contains(lines, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal) && l.EndsWith(" AS build", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("-p:PublishAot=true", StringComparison.Ordinal));
        Assert.Contains("COPY --from=build /out/jumpgate /usr/local/bin/jumpgate", lines);
        // The last USER before the entry point is who the program runs as.
        Assert.Equal("USER app", lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal)));
        Assert.Contains("ENTRYPOINT [\"/usr/local/bin/jumpgate\"]", lines);
    }

    /// <summary>
    /// A root for systemd-analyze: the units where an admin installs them, the system's own units
    /// (what they are ordered after), and an executable where ExecStart expects `jumpgate`.
    /// </summary>
    private async Task<string> SystemdRootAsync()
    {
        var root = _root.File("root");
        var units = Path.Combine(root, "etc/systemd/system");
        Directory.CreateDirectory(units);
        foreach (var unit in Directory.GetFiles(Path.Combine(Deploy, "systemd"), "*.service"))
        {
            File.Copy(unit, Path.Combine(units, Path.GetFileName(unit)));
        }
        Directory.CreateDirectory(Path.Combine(root, "usr/lib/systemd"));
        // cp keeps the links among them (aliases, masks) as links, which systemd-analyze resolves inside the root.
        var copied = await Command.RunAsync("cp", ["-a", "/usr/lib/systemd/system", Path.Combine(root, "usr/lib/systemd/")], Signals.Timeout(60));
        Assert.True(copied.ExitCode == 0, copied.ToString());
        Directory.CreateDirectory(Path.Combine(root, "usr/local/bin"));
        File.Copy(TestSupport.Jumpgate.Built, Path.Combine(root, "usr/local/bin/jumpgate"));
        return root;
    }

    /// <summary>Debian's docker-compose where it is installed (test.sh installs it), else the docker CLI's compose plugin.</summary>
    private async Task<CommandResult> ComposeAsync(string[] arguments, Dictionary<string, string> environment)
    {
        var file = Path.Combine(Deploy, "docker-stack.yml");
        environment["COMPOSE_PROJECT_NAME"] = "jumpgate-test";
        return File.Exists("/usr/bin/docker-compose")
            ? await Command.RunAsync("/usr/bin/docker-compose", ["-f", file, .. arguments], Signals.Timeout(60), environment, output: output)
            : await Command.RunAsync("docker", ["compose", "-f", file, .. arguments], Signals.Timeout(60), environment, output: output);
    }

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
}
