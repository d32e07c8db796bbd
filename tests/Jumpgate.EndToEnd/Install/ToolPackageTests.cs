using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Install;

/// <summary>`dotnet pack` once for the class: the package the tests install.</summary>
public sealed class ToolPackage : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("jg-pack");

    public string Source => _dir.File("artifacts");

    public string Folder => _dir.Path;

    public async Task InitializeAsync()
    {
        // The tests run from tests/Jumpgate.EndToEnd/bin/CONFIGURATION/net10.0/: pack that same build.
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var project = Path.Combine(RepositoryRoot(), "src", "Jumpgate.Cli");
        var result = await Command.RunAsync("dotnet", ["pack", project, "-c", configuration, "--no-build", "-nologo", "-o", Source], TimeSpan.FromMinutes(3));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet pack failed: {result}");
        }
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
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
        throw new DirectoryNotFoundException($"no Jumpgate.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>The dotnet tool as a user installs it, from the package folder alone.</summary>
public sealed class ToolPackageTests(ToolPackage package, ITestOutputHelper output) : IClassFixture<ToolPackage>
{
    [Fact]
    public async Task InstallsFromTheLocalPackageAloneAndSaysItIsADotnetTool()
    {
        using var home = new TempDirectory("jg-tool");
        // Only the package folder as a source, and an empty package cache, so nothing comes from
        // nuget.org or from an older jumpgate package that a previous pack left in ~/.nuget/packages.
        var config = home.File("nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="artifacts" value="{package.Source}" />
              </packageSources>
            </configuration>
            """);
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = home.File("packages"), ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" };

        var install = await Command.RunAsync("dotnet", ["tool", "install", "--tool-path", home.File("bin"), "--configfile", config, "jumpgate"], TimeSpan.FromMinutes(3), environment, output: output);
        Assert.True(install.ExitCode == 0, install.ToString());

        var version = await Command.RunAsync(home.File("bin/jumpgate"), ["--version"], TimeSpan.FromSeconds(60));
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+ \(dotnet tool(, commit [0-9a-f]+)?\)$", version.Stdout.Trim());
    }
}
