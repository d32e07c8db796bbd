using Jumpgate.Cli.Client;
using Jumpgate.Cli.Import;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Import;

/// <summary>OpenSSH client configs with ProxyJump bastions, read as `jumpgate import ssh-config` reads them.</summary>
public sealed class SshConfigImportTests : IDisposable
{
    private readonly TempDirectory _dir = new("jg-sshcfg");

    public void Dispose() => _dir.Dispose();

    private string Write(string name, string text)
    {
        var path = _dir.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void HostsBehindTheBastionKeepTheirAddressesAndPortsWithOptionsFromPatternsAndIncludes()
    {
        Write("conf.d/lab", """
            Host gpu2
                HostName 10.0.0.12
                Port 2222
            """);
        var config = Write("config", """
            # the lab
            Host bastion
                HostName bastion.example.org
                User alice

            Include conf.d/*

            Host gpu1
                HostName 10.0.0.11

            Host gpu* !gpu9
                ProxyJump alice@bastion:22
                User alice

            Match exec "true"
                User nobody

            Host laptop
                HostName 192.168.1.5
            """);

        var result = SshConfigImport.Import(config, null, "/usr/local/bin/jumpgate");

        Assert.Equal("bastion", result.Bastion);
        Assert.Equal([new ImportedHost("gpu2", "10.0.0.12", [new ImportedService("ssh", 2222)]), new ImportedHost("gpu1", "10.0.0.11", [new ImportedService("ssh", 22)])],
            result.Agent.Hosts, (a, b) => a.Name == b.Name && a.Address == b.Address && a.Services.SequenceEqual(b.Services));
        Assert.Contains($"{config}:11: Host gpu* is a pattern, not a machine; its options apply to the hosts it matches, the pattern itself is not imported", result.Agent.Notes);
        Assert.Contains(result.Agent.Notes, n => n.StartsWith($"{config}:11: Host !gpu9 is a pattern", StringComparison.Ordinal));
        Assert.Contains(result.Agent.Notes, n => n.StartsWith($"{config}:15: Match exec \"true\": not evaluated", StringComparison.Ordinal));
        Assert.StartsWith("# Jumpgate: `ssh HOST.jg`", result.SshLines, StringComparison.Ordinal);
        Assert.Contains("Host gpu1.jg\n    User alice\n", result.SshLines, StringComparison.Ordinal);
    }

    [Fact]
    public void ANameThatIsNotAHostNameGetsAnAliasUnderItsOldName()
    {
        var config = Write("config", """
            Host GPU_box.lab
                HostName 10.0.0.7
                ProxyJump jump
            """);

        var result = SshConfigImport.Import(config, null, "/usr/local/bin/jumpgate");

        Assert.Equal("gpu-box-lab", Assert.Single(result.Agent.Hosts).Name);
        Assert.Contains("Host GPU_box.lab\n    ProxyCommand /usr/local/bin/jumpgate proxy gpu-box-lab %p\n", result.SshLines, StringComparison.Ordinal);
    }

    [Fact]
    public void SeveralBastionsNeedOneChosenAndTheOthersAreNoted()
    {
        var config = Write("config", """
            Host a1
                ProxyJump ssh://me@bastion-a:2200
            Host b1
                ProxyJump first,bastion-b
            """);

        var refused = Assert.Throws<CliException>(() => SshConfigImport.Import(config, null, "jumpgate"));
        var chosen = SshConfigImport.Import(config, "bastion-b", "jumpgate");

        Assert.Contains("2 bastions (bastion-a, bastion-b); give --bastion NAME", refused.Message, StringComparison.Ordinal);
        Assert.Equal("b1", Assert.Single(chosen.Agent.Hosts).Name);
        Assert.Contains("a1 go through bastion bastion-a: run again with --bastion bastion-a", chosen.Agent.Notes);
    }

    [Theory]
    [InlineData("Host gpu1\n    ProxyJump bastion\n    Port 22x\n", ":3: Port: '22x' for gpu1 is not a port (1-65535)")]
    [InlineData("Host gpu1\n    HostName 10.0.0.1\n", ": no host is reached through a ProxyJump bastion")]
    [InlineData("Host gpu1\n    ProxyJump bastion\nInclude config\n", ":3: Include config: nested more than 16 deep")]
    [InlineData("Host gpu1\n    \"ProxyJump\" bastion\n", ":2: expected `Keyword value`")]
    public void BadInputIsRefusedNamingTheFileAndLine(string text, string expected)
    {
        var config = Write("config", text);

        var error = Assert.Throws<CliException>(() => SshConfigImport.Import(config, null, "jumpgate"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingIncludeAndAProxyCommandHostAreNoted()
    {
        var config = Write("config", """
            Include nosuch.conf
            Host old
                ProxyCommand ssh -W %h:%p bastion
            Host gpu1
                ProxyJump bastion
            """);

        var notes = SshConfigImport.Import(config, null, "jumpgate").Agent.Notes;

        Assert.Contains($"{config}:1: Include nosuch.conf: no such file; nothing read", notes);
        Assert.Contains(notes, n => n.StartsWith($"{config}:2: old uses a ProxyCommand, not a ProxyJump: not imported", StringComparison.Ordinal));
    }
}
