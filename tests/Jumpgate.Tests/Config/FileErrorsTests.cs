using Jumpgate.Core.Config;
using Xunit;

namespace Jumpgate.Tests.Config;

/// <summary>
/// A file error reads the same in the JIT build, where the framework words it, and in the native
/// build, where the framework leaves a resource key and the path.
/// </summary>
public sealed class FileErrorsTests
{
    [Fact]
    public void AMissingFileIsNamedWithWhatToCheck()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"jg-missing-{Guid.NewGuid():N}.yaml");
        var error = Assert.ThrowsAny<IOException>(() => File.ReadAllText(missing));

        Assert.StartsWith($"{missing} does not exist; check the path", FileErrors.Describe(error), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Access to the path '/etc/jumpgate/agent.token' is denied.")]
    [InlineData("UnauthorizedAccess_IODenied_Path, /etc/jumpgate/agent.token")]
    public void PermissionDeniedNamesThePathAndTheFixInBothForms(string message)
    {
        var text = FileErrors.Describe(new UnauthorizedAccessException(message));

        Assert.StartsWith("/etc/jumpgate/agent.token: permission denied; check its owner and mode", text, StringComparison.Ordinal);
        Assert.DoesNotContain("UnauthorizedAccess_", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Could not find a part of the path '/no/such/agent.yaml'.")]
    [InlineData("IO_PathNotFound_Path, /no/such/agent.yaml")]
    public void AMissingFolderIsNamedInBothForms(string message) =>
        Assert.Equal("a folder on the way to /no/such/agent.yaml does not exist; check the path, or create the folder",
            FileErrors.Describe(new DirectoryNotFoundException(message)));

    [Fact]
    public void AnErrorTheOsWordsKeepsItsWords() =>
        Assert.Equal("No space left on device : '/var/lib/jumpgate/gateway.db'",
            FileErrors.Describe(new IOException("No space left on device : '/var/lib/jumpgate/gateway.db'", 28)));
}
