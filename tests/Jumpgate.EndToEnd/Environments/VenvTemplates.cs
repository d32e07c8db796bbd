using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.EndToEnd.Environments;

/// <summary>
/// The venvs of <see cref="EnvTests"/>, made once per class (python3 -m venv and ensurepip take tens of
/// seconds on a loaded machine): the first with jgdemo-alpha 1.0.0 and jgdemo-beta 1.1.0, the second with
/// jgdemo-alpha 2.0.0 only, from wheels written by hand into <see cref="Wheelhouse"/>.
/// </summary>
public sealed class VenvTemplates : IAsyncLifetime
{
    private readonly TempDirectory _folder = new("jg-venvs");

    public string Wheelhouse => _folder.File("wheels");

    private string Template(int i) => _folder.File($"venv{i}");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Wheelhouse);
        Wheels.Write(Wheelhouse, "jgdemo-alpha", "1.0.0");
        Wheels.Write(Wheelhouse, "jgdemo-alpha", "2.0.0");
        Wheels.Write(Wheelhouse, "jgdemo-beta", "1.1.0");
        await Task.WhenAll(MakeAsync(1, "jgdemo-alpha==1.0.0", "jgdemo-beta==1.1.0"), MakeAsync(2, "jgdemo-alpha==2.0.0"));
    }

    private async Task MakeAsync(int i, params string[] packages)
    {
        // The system's Python, not the PATH's: a venv links to the Python that made it, and a test host with a
        // /root of its own (FleetEnvTests) would not see one installed under the real /root (pyenv's shims).
        var venv = await Command.RunAsync("/usr/bin/python3", ["-m", "venv", Template(i)], TimeSpan.FromSeconds(180));
        Assert.True(venv.ExitCode == 0, venv.ToString());
        var install = await Command.RunAsync(Path.Combine(Template(i), "bin", "python"), ["-m", "pip", "install", "--no-index", "--find-links", Wheelhouse, .. packages], TimeSpan.FromSeconds(180));
        Assert.True(install.ExitCode == 0, install.ToString());
    }

    /// <summary>A copy of venv <paramref name="i"/>: used as `python -m pip`, a venv does not mind its folder's name.</summary>
    public async Task CopyAsync(int i, string destination)
    {
        var copy = await Command.RunAsync("cp", ["-a", Template(i), destination], TimeSpan.FromSeconds(60));
        Assert.True(copy.ExitCode == 0, copy.ToString());
    }

    public Task DisposeAsync()
    {
        _folder.Dispose();
        return Task.CompletedTask;
    }
}
