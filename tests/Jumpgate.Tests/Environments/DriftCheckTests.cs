using System.Text;
using Jumpgate.Cli.Environments;
using Xunit;

namespace Jumpgate.Tests.Environments;

/// <summary>The host script's answer, read back and compared with a spec, on real conda and pip captures.</summary>
public sealed class DriftCheckTests
{
    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "conda", name));

    private static string CondaAnswer() => new StringBuilder()
        .Append("@@jumpgate:manager conda /opt/conda/bin/conda\n")
        .Append("@@jumpgate:env-list\n{\"envs\": [\"/opt/conda\", \"/opt/conda/envs/base39\"]}\n")
        .Append("@@jumpgate:prefix /opt/conda/envs/base39\n")
        .Append("@@jumpgate:conda-list\n").Append(Fixture("conda-list-osx64.json")).Append('\n')
        .Append("@@jumpgate:python 3.12.3 /opt/conda/envs/base39/bin/python\n")
        .Append("@@jumpgate:pip-list\n").Append(Fixture("pip-list.json")).Append('\n')
        .Append("@@jumpgate:end\n")
        .ToString();

    [Fact]
    public void ComparesARealCondaListAndPipListWithASpec()
    {
        var host = HostProbe.Parse("node1", CondaAnswer());
        Assert.Equal((HostStatus.Checked, "conda", "/opt/conda/envs/base39"), (host.Status, host.Manager, host.Prefix));
        Assert.Equal(34, host.Conda.Count);
        Assert.Equal(70, host.Pip!.Count);

        var spec = EnvironmentFile.Parse("env.yml", """
            name: base39
            dependencies:
              - python=3.9
              - openssl>=1.1.1
              - tqdm>=4.62
              - numpy
              - pkgs/main::certifi=2021.5.30
              - conda-forge::six
              - pip:
                - streamlit>=1.50
                - GitPython==3.1.45
                - python-dateutil>=2.9.0
                - numpy<2
                - torch
                - -e .
            """);
        var report = DriftCheck.Compare(spec, [host], extra: false);
        var cells = report.Rows.ToDictionary(r => r.Package, r => DriftMatrix.Text(r.Cells["node1"]));

        Assert.Equal("ok", cells["python=3.9"]);
        // conda orders 1.1.1k below 1.1.1 (its VersionOrder documents it for openssl): a letter is a pre-release to conda.
        Assert.Equal("wrong: 1.1.1k", cells["openssl>=1.1.1"]);
        Assert.Equal("wrong: 4.61.2", cells["tqdm>=4.62"]);
        Assert.Equal("missing", cells["numpy"]);
        Assert.Equal("ok", cells["pkgs/main::certifi=2021.5.30"]);
        Assert.Equal("wrong: 1.16.0 (from pkgs/main)", cells["conda-forge::six"]);
        Assert.Equal("ok", cells["streamlit>=1.50"]);
        Assert.Equal("ok", cells["GitPython==3.1.45"]);
        Assert.Equal("ok", cells["python-dateutil>=2.9.0"]);
        Assert.Equal("wrong: 2.3.4", cells["numpy<2"]);
        Assert.Equal("missing", cells["torch"]);
        Assert.False(cells.ContainsKey("-e ."));
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public void ExtraListsWhatTheHostHasBeyondTheSpec()
    {
        var host = HostProbe.Parse("node1", CondaAnswer());
        var spec = EnvironmentFile.Parse("env.yml", "name: base39\ndependencies:\n  - python\n");
        var extras = DriftCheck.Compare(spec, [host], extra: true).Rows.Where(r => r.Kind == "extra").ToList();
        Assert.Equal(33, extras.Count);
        Assert.Equal("extra: 21.1.3", DriftMatrix.Text(extras.Single(r => r.Package == "pip").Cells["node1"]));
    }

    [Fact]
    public void HostsWithoutCondaOrEnvironmentOrAnswerAreSaidSo()
    {
        var spec = EnvironmentFile.Parse("env.yml", "name: train\ndependencies:\n  - numpy=1.26\n");
        var hosts = new[]
        {
            HostProbe.Parse("a", "@@jumpgate:no-conda\n@@jumpgate:end\n"),
            HostProbe.Parse("b", "@@jumpgate:manager micromamba /usr/local/bin/micromamba\n@@jumpgate:env-list\n{}\n@@jumpgate:no-environment\n"),
            HostProbe.Parse("c", "@@jumpgate:manager conda /opt/conda/bin/conda\n@@jumpgate:env-list\n"),
        };
        Assert.Equal([HostStatus.NoConda, HostStatus.NoEnvironment, HostStatus.Failed], hosts.Select(h => h.Status));
        var report = DriftCheck.Compare(spec, hosts, extra: false);
        Assert.Equal(["-", "missing", "-"], hosts.Select(h => DriftMatrix.Text(report.Rows[0].Cells[h.Host])));
        Assert.Equal("micromamba (/usr/local/bin/micromamba) has no environment train", DriftMatrix.Describe(hosts[1], spec));
        Assert.Equal("could not check: the host's answer ended early", DriftMatrix.Describe(hosts[2], spec));
        Assert.Equal(2, report.ExitCode);
        Assert.Equal(["/usr/local/bin/micromamba", "create", "--yes", "--name", "train"], EnvSync.Command(hosts[1], spec).Take(5));
    }
}
