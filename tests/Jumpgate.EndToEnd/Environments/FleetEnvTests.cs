using System.Text.Json;
using Jumpgate.EndToEnd.Fleet;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Environments;

/// <summary>
/// `jumpgate env check --fleet NAME` on a fleet made as `fleet apply` makes one: two hosts in network
/// namespaces that only a head node reaches, each with its own root home (where apply installs the fleet
/// key) and its own venv on one shared path. The second host's venv has jgdemo-alpha at another version.
/// </summary>
public sealed class FleetEnvTests(VenvTemplates templates, ITestOutputHelper output) : IClassFixture<VenvTemplates>, IAsyncLifetime
{
    private readonly TempDirectory _home = new("jg-fleet-env");
    private FleetNetwork _network = null!;
    private Sshd _head = null!;
    private readonly List<Sshd> _hosts = [];

    private string ConfigHome => _home.File("config");

    private string SharedVenv => _home.File("venv");

    private string Python => Path.Combine(SharedVenv, "bin", "python");

    private string Host(int i) => _network.HostAddress(i);

    private string Key(int i) => _home.File($"host{i}_ed25519");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(SharedVenv);
        _network = await FleetNetwork.CreateAsync(output);
        _head = await Sshd.StartAsync(output, netns: _network.Head, address: _network.HeadAddress);
        for (var i = 0; i < 2; i++)
        {
            await templates.CopyAsync(i + 1, _home.File($"venv{i}"));
            var home = Directory.CreateDirectory(_home.File($"home{i}")).FullName;
            Directory.CreateDirectory(Path.Combine(home, ".ssh"));
            // A mount namespace per host: its own /root (for authorized_keys) and its own venv on the shared path.
            var sshd = await Sshd.StartAsync(output, netns: _network.Hosts[i], address: Host(i),
                extraConfig: "Match all\n    AuthorizedKeysFile .ssh/authorized_keys",
                launcher: ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount --bind \"$1\" /root && mount --bind \"$2\" \"$3\" && shift 3 && exec \"$@\"", "sh", home, _home.File($"venv{i}"), SharedVenv]);
            _hosts.Add(sshd);
            await File.WriteAllTextAsync(Path.Combine(home, ".ssh", "authorized_keys"), await File.ReadAllTextAsync(sshd.ClientKey + ".pub"));
            File.Copy(sshd.ClientKey, Key(i), overwrite: true);
            File.SetUnixFileMode(Key(i), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    public async Task DisposeAsync()
    {
        // The fleet's master connections are ssh processes the CLI left running (ControlPersist): end them.
        var config = Path.Combine(ConfigHome, "jumpgate", "fleets", "lab", "ssh_config");
        if (File.Exists(config))
        {
            foreach (var alias in new[] { Host(0), Host(1), "jumpgate-fleet-head" })
            {
                await Command.RunAsync("ssh", ["-F", config, "-O", "exit", alias], TimeSpan.FromSeconds(10));
            }
        }
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
        await _head.DisposeAsync();
        await _network.DisposeAsync();
        _home.Dispose();
    }

    private Task<CommandResult> JumpgateAsync(params string[] arguments) =>
        Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable, arguments, TimeSpan.FromSeconds(120),
            environment: new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = ConfigHome, ["XDG_RUNTIME_DIR"] = "" },
            output: output);

    [Fact]
    public async Task CheckOnAFleetNamesTheDriftingHostsCell()
    {
        var fleetFile = _home.File("fleet.yml");
        await File.WriteAllTextAsync(fleetFile, $"""
            type: fleet
            name: lab
            ssh_config:
              user: root
              hosts:
                - hostname: {Host(0)}
                  identity_file: {Key(0)}
                - hostname: {Host(1)}
                  identity_file: {Key(1)}
              proxy_jump:
                hostname: {_network.HeadAddress}
                identity_file: {_head.ClientKey}
            """);
        var apply = await JumpgateAsync("fleet", "apply", fleetFile);
        Assert.True(apply.ExitCode == 0, apply.ToString());

        var spec = _home.File("environment.yml");
        await File.WriteAllTextAsync(spec, "name: demo\ndependencies:\n  - pip:\n    - jgdemo-alpha==1.0.0\n");
        var check = await JumpgateAsync("env", "check", spec, "--fleet", "lab", "--python", Python, "--json");

        Assert.True(check.ExitCode == 1, check.ToString());
        var package = JsonDocument.Parse(check.Stdout).RootElement.GetProperty("packages").EnumerateArray().Single();
        var hosts = package.GetProperty("hosts");
        Assert.Equal("ok", hosts.GetProperty(Host(0)).GetProperty("state").GetString());
        Assert.Equal(("wrong_version", "2.0.0"), (hosts.GetProperty(Host(1)).GetProperty("state").GetString(), hosts.GetProperty(Host(1)).GetProperty("installed").GetString()));
    }
}
