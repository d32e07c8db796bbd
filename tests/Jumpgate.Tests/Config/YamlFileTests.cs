using Jumpgate.Core.Config;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Config;

public sealed class YamlFileTests
{
    private const string Path = "/etc/jumpgate/test.yaml";

    [Theory]
    [InlineData("")]
    [InlineData("   \n\n")]
    [InlineData("# only a comment\n")]
    public void ReportsAnEmptyFile(string text)
    {
        var error = Assert.Single(Assert.Throws<ConfigException>(() => YamlFile.FromText(Path, text)).Errors);

        Assert.Equal(Path, error.File);
        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("- a\n- b\n")]
    [InlineData("just some text\n")]
    public void ReportsATopLevelThatIsNotAMapping(string text)
    {
        var error = Assert.Single(Assert.Throws<ConfigException>(() => YamlFile.FromText(Path, text)).Errors);

        Assert.Equal(1, error.Line);
        Assert.Contains("mapping", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a: 1\nb: [1, 2\n", 3)] // the parser notices at the end of the file
    [InlineData("a: 1\nb: {c: 1\n", 3)]
    [InlineData("a: 1\nb: \"open\nc: 3\n", 2)]
    [InlineData("a: 1\nb: 2: 3\n", 2)]
    [InlineData("a: 1\n b: 2\n", 2)]
    [InlineData("a: 1\na: 2\n", 2)]
    public void ReportsASyntaxErrorWithItsLine(string text, int line)
    {
        var exception = Assert.Throws<ConfigException>(() => YamlFile.FromText(Path, text));
        var error = Assert.Single(exception.Errors);

        Assert.Equal("(syntax)", error.Field);
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"{Path}:{error.Line}:", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void ReadsTypedValuesAndCollectsEveryProblem()
    {
        var file = YamlFile.FromText(Path, """
            name: lab
            count: 12
            big: 100000
            flag: true
            maybe: sometimes
            wait: 5s
            never: later
            nested: { a: 1 }
            """);
        var root = file.Root;

        Assert.Equal("lab", file.String(root, "name", "name"));
        Assert.Equal(12, file.Int(root, "count", "count", 0, 64));
        Assert.Null(file.Int(root, "big", "big", 0, 64));
        Assert.True(file.Bool(root, "flag", "flag"));
        Assert.Null(file.Bool(root, "maybe", "maybe"));
        Assert.Equal(TimeSpan.FromSeconds(5), file.Duration(root, "wait", "wait"));
        Assert.Null(file.Duration(root, "never", "never"));
        Assert.Null(file.String(root, "nested", "nested"));
        Assert.Null(file.String(root, "absent", "absent", required: true));
        Assert.Null(file.Int(root, "absent", "absent", 0, 1));

        Assert.Equal(["big", "maybe", "never", "nested", "absent"], file.Errors.Select(e => e.Field));
        Assert.Equal([3, 5, 7, 8, 1], file.Errors.Select(e => e.Line));
        var exception = Assert.Throws<ConfigException>(file.ThrowIfErrors);
        Assert.Equal(5, exception.Errors.Count);
    }

    [Fact]
    public void ResolvesPathsRelativeToTheFile()
    {
        var file = YamlFile.FromText("/etc/jumpgate/agent.yaml", "a: 1");

        Assert.Equal("/etc/jumpgate/agent.token", file.ResolvePath("agent.token"));
        Assert.Equal("/etc/agent.token", file.ResolvePath("../agent.token"));
        Assert.Equal("/var/lib/x", file.ResolvePath("/var/lib/x"));
    }

    [Fact]
    public void ReportsAFileThatCannotBeRead()
    {
        using var directory = new TempDirectory();
        var path = directory.File("absent.yaml");

        var error = Assert.Single(Assert.Throws<ConfigException>(() => YamlFile.Load(path)).Errors);

        Assert.Equal(path, error.File);
        Assert.Equal("(file)", error.Field);
    }

    [Fact]
    public void ReportsAnUnclosedFlowSequenceAsASyntaxErrorOfTheFile()
    {
        var error = Assert.Throws<ConfigException>(() => YamlFile.FromText("/etc/jg/agent.yaml", "a: 1\nb: [1, 2\nc: 3\n"));

        var only = Assert.Single(error.Errors);
        Assert.Equal("/etc/jg/agent.yaml", only.File);
        Assert.Equal("(syntax)", only.Field);
    }
}
