using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Benchmark;

/// <summary>The benchmark runs alone: it starts dozens of processes and would only slow the other tests.</summary>
[CollectionDefinition(nameof(BenchmarkCollection), DisableParallelization = true)]
public sealed class BenchmarkCollection;

/// <summary>
/// The benchmark still works: one short iteration of every figure, no thresholds (speed is the
/// benchmark's business, never a test's). The full run is `bench/run`.
/// </summary>
[Collection(nameof(BenchmarkCollection))]
public sealed class BenchmarkSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SmokeRunProducesATableWithEveryFigure()
    {
        var root = RepositoryRoot();
        var table = Path.Combine(root, "bench", "results", "smoke.md.tmp");
        File.Delete(table);

        var result = await Command.RunAsync(Path.Combine(root, "bench", "run"), ["--smoke"], Signals.Timeout(480), output: output);

        Assert.True(result.ExitCode == 0, result.ToString());
        var text = await File.ReadAllTextAsync(table);
        foreach (var figure in new[] { "bulk, 1 stream", "bulk, 8 streams", "new connection", "`ssh host true`", "`scp` of", "start-up to first byte", "memory per idle connection", "reconnect" })
        {
            Assert.Matches($@"\| [^|]*{System.Text.RegularExpressions.Regex.Escape(figure)}[^|]*\| \*\*Jumpgate\*\* \| [0-9]", text);
        }
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
