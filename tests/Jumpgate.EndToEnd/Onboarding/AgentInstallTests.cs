using System.Text.RegularExpressions;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Onboarding;

/// <summary>`jumpgate agent install` where it may not install (or is told to print): the script it prints, and the unit in it verified by systemd-analyze.</summary>
public sealed class AgentInstallTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("jg-install");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task PrintsTheDeployUnitTheServiceConfigAndTheCommandsAndTheUnitVerifies()
    {
        var config = await AgentYamlAsync();

        var install = await JumpgateAsync("agent", "install", "--config", config, "--print");

        Assert.Equal(0, install.ExitCode);
        var script = install.Stdout;
        Assert.Contains($"sudo install -m 0600 -o root -g root '{_dir.File("lab-a.token")}' /etc/jumpgate/agent.token\n", script, StringComparison.Ordinal);
        Assert.Contains("sudo systemctl enable --now jumpgate-agent.service\n", script, StringComparison.Ordinal);
        var unit = HereDocument(script, "/etc/systemd/system/jumpgate-agent.service");
        Assert.Equal((await File.ReadAllTextAsync(Path.Combine(DeployFolder(), "systemd", "jumpgate-agent.service"))).TrimEnd('\n'), unit);
        Assert.Contains("Restart=always", unit.Split('\n'));
        Assert.Contains("LoadCredential=agent.token:/etc/jumpgate/agent.token", unit.Split('\n'));
        var serviceConfig = HereDocument(script, "/etc/jumpgate/agent.yaml");
        Assert.Contains("token_file: /run/credentials/jumpgate-agent.service/agent.token\n", serviceConfig, StringComparison.Ordinal);
        Assert.Equal(
            Regex.Replace(await File.ReadAllTextAsync(config), "(?m)^token_file:.*$", "").TrimEnd('\n'),
            Regex.Replace(serviceConfig, "(?m)^token_file:.*$", ""));

        var root = await SystemdRootAsync(unit);
        var verify = await Command.RunAsync("systemd-analyze", ["verify", "--root=" + root, "jumpgate-agent.service"], Signals.Timeout(60), output: output);
        Assert.Equal(0, verify.ExitCode);
        Assert.Equal("", verify.Stderr.Trim());
    }

    [Fact]
    public async Task WithoutSystemdItPrintsTheSameScriptAndSaysWhy()
    {
        if (Directory.Exists("/run/systemd/system"))
        {
            // Without --print the command would install for real on this machine.
            output.WriteLine("this machine runs systemd: not run");
            return;
        }
        var config = await AgentYamlAsync();

        var printed = await JumpgateAsync("agent", "install", "--config", config, "--print");
        var install = await JumpgateAsync("agent", "install", "--config", config);

        Assert.Equal(0, install.ExitCode);
        Assert.Equal(printed.Stdout, install.Stdout);
        Assert.Contains(Environment.IsPrivilegedProcess ? "not on a machine running systemd" : "not root", install.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A gateway directory (not running) and the agent.yaml `add-agent --print-config` prints for it.</summary>
    private async Task<string> AgentYamlAsync()
    {
        var gw = _dir.File("gw");
        Assert.Equal(0, (await JumpgateAsync("gateway", "init", "--dir", gw, "--listen", "127.0.0.1:7443")).ExitCode);
        var added = await JumpgateAsync("gateway", "add-agent", "lab-a", "--hosts", "node*", "--dir", gw, "-o", _dir.File("lab-a.token"), "--print-config");
        Assert.Equal(0, added.ExitCode);
        var config = _dir.File("agent.yaml");
        await File.WriteAllTextAsync(config, added.Stdout);
        return config;
    }

    private static string HereDocument(string script, string target)
    {
        var match = Regex.Match(script, $"sudo tee {Regex.Escape(target)} > /dev/null <<'EOF'\n(.*?)\nEOF\n", RegexOptions.Singleline);
        Assert.True(match.Success, $"no here-document for {target} in:\n{script}");
        return match.Groups[1].Value;
    }

    /// <summary>As DeployFilesTests builds it: the unit where the script puts it, the system's units, jumpgate where ExecStart expects it.</summary>
    private async Task<string> SystemdRootAsync(string unit)
    {
        var root = _dir.File("root");
        Directory.CreateDirectory(Path.Combine(root, "etc/systemd/system"));
        await File.WriteAllTextAsync(Path.Combine(root, "etc/systemd/system/jumpgate-agent.service"), unit + "\n");
        Directory.CreateDirectory(Path.Combine(root, "usr/lib/systemd"));
        var copied = await Command.RunAsync("cp", ["-a", "/usr/lib/systemd/system", Path.Combine(root, "usr/lib/systemd/")], Signals.Timeout(60));
        Assert.True(copied.ExitCode == 0, copied.ToString());
        Directory.CreateDirectory(Path.Combine(root, "usr/local/bin"));
        File.Copy(TestSupport.Jumpgate.Built, Path.Combine(root, "usr/local/bin/jumpgate"));
        return root;
    }

    private static string DeployFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Jumpgate.sln")))
            {
                return Path.Combine(dir.FullName, "deploy");
            }
        }
        throw new DirectoryNotFoundException("Jumpgate.sln not found above " + AppContext.BaseDirectory);
    }

    private Task<CommandResult> JumpgateAsync(params string[] arguments) =>
        Command.RunAsync(TestSupport.Jumpgate.Executable, arguments, Signals.Timeout(60), output: output);
}
