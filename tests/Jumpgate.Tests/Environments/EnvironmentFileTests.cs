using Jumpgate.Cli.Environments;
using Jumpgate.Core.Config;
using Xunit;

namespace Jumpgate.Tests.Environments;

public sealed class EnvironmentFileTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "conda", name);

    [Fact]
    public void ReadsDiffusionPolicysEnvironment()
    {
        var spec = EnvironmentFile.Load(Fixture("environment-diffusion-policy.yaml"));

        Assert.Equal("robodiff", spec.Name);
        Assert.Equal(["pytorch", "pytorch3d", "nvidia", "conda-forge"], spec.Channels);
        Assert.Equal(43, spec.Conda.Count);
        var python = spec.Conda[0];
        Assert.Equal("python", python.Name);
        Assert.True(python.Matches("3.9.18", null));
        Assert.False(python.Matches("3.10.0", null));
        Assert.True(spec.Conda.Single(c => c.Name == "numba").Matches("0.56.4", null));
        Assert.Equal(10, spec.Pip.Count);
        var ray = spec.Pip[0];
        Assert.Equal("ray", ray.Name);
        Assert.Equal(["default", "tune"], ray.Extras);
        Assert.True(ray.Specifier!.Matches(Pep440Version.Parse("2.2.0")));
        var robosuite = spec.Pip.Single(p => p.Name == "robosuite");
        Assert.True(robosuite.Direct);
        Assert.Null(robosuite.Specifier);
        Assert.False(spec.PipOnly);
    }

    [Fact]
    public void ReadsStableDiffusionsEnvironmentWithEditableInstalls()
    {
        var spec = EnvironmentFile.Load(Fixture("environment-stable-diffusion.yaml"));

        Assert.Equal("ldm", spec.Name);
        Assert.Equal(["python", "pip", "cudatoolkit", "pytorch", "torchvision", "numpy"], spec.Conda.Select(c => c.Name));
        Assert.Equal(19, spec.Pip.Count);
        Assert.Null(spec.Pip.Single(p => p.Text == "diffusers").Specifier);
        Assert.True(spec.Pip.Single(p => p.Name == "streamlit").Specifier!.Matches(Pep440Version.Parse("1.28.0")));
        var taming = spec.Pip.Single(p => p.Text.Contains("taming", StringComparison.Ordinal));
        Assert.Equal(("taming-transformers", true), (taming.Name, taming.Direct));
        Assert.Null(spec.Pip.Single(p => p.Text == "-e .").Name);
    }

    [Fact]
    public void ReadsChannelsBuildStringsAndAPipOnlySpec()
    {
        var spec = EnvironmentFile.Parse("env.yml", """
            name: train
            channels: [conda-forge]
            dependencies:
              - python>=3.10,<3.12
              - pip
              - pip:
                - torch==2.1.0+cu121
                - accelerate[torch] >=0.25 ; python_version >= "3.10"
            """);
        Assert.True(spec.PipOnly);
        Assert.Equal(["torch", "accelerate"], spec.Pip.Select(p => p.Name));
        Assert.Equal(["torch"], spec.Pip[1].Extras);

        var conda = EnvironmentFile.Parse("env.yml", """
            name: train
            dependencies:
              - pytorch::pytorch=2.1.0=py3.11_cuda12.1*
              - conda-forge/linux-64::numpy
            """);
        Assert.Equal(("pytorch", "pytorch", "py3.11_cuda12.1*"), (conda.Conda[0].Channel, conda.Conda[0].Name, conda.Conda[0].Build));
        Assert.Equal("conda-forge/linux-64", conda.Conda[1].Channel);
        Assert.False(conda.PipOnly);
    }

    [Fact]
    public void NamesFileLineAndFieldOfEveryMistakeAtOnce()
    {
        var e = Assert.Throws<ConfigException>(() => EnvironmentFile.Parse("env.yml", """
            name: train
            chanels: [conda-forge]
            dependencies:
              - numpy=1.26
              - python>=>3.10
              - { conda: numpy }
              - pip:
                - ray[tune]==2.2.0
                - torch=>2.1
              - [1, 2]
            """));

        Assert.Collection(e.Errors,
            error => Assert.Equal(("env.yml", 2, "chanels"), (error.File, error.Line, error.Field)),
            error =>
            {
                Assert.Equal((5, "dependencies[1]"), (error.Line, error.Field));
                Assert.Contains("'>=>3.10' is not a version constraint", error.Message);
            },
            error =>
            {
                Assert.Equal((6, "dependencies[2]"), (error.Line, error.Field));
                Assert.Contains("a package (numpy=1.26) or a pip: list", error.Message);
            },
            error =>
            {
                Assert.Equal((9, "dependencies[3].pip[1]"), (error.Line, error.Field));
                Assert.Contains("'=>2.1' is not a version specifier", error.Message);
            },
            error => Assert.Equal((10, "dependencies[4]"), (error.Line, error.Field)));
    }

    [Fact]
    public void AskForDependencies()
    {
        var e = Assert.Throws<ConfigException>(() => EnvironmentFile.Parse("env.yml", "name: train\n"));
        Assert.Equal("dependencies", Assert.Single(e.Errors).Field);
    }
}
