using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Fleet;

/// <summary>
/// `jumpgate fleet` against a lab in network namespaces: a head node with an sshd, and two hosts with
/// their own sshd that only the head can reach. Each host's PATH (sshd's SetEnv) holds an nvidia-smi
/// that replays a real capture: an eight-GPU server (8x Tesla V100S) on the first host, no driver on the second.
/// </summary>
public sealed class FleetTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _home = new("jg-fleet");
    private FleetNetwork _network = null!;
    private Sshd _head = null!;
    private readonly Sshd?[] _hosts = new Sshd?[2];

    private string FleetFile => _home.File("fleet.yml");

    private string ConfigHome => _home.File("config");

    private string Host(int i) => _network.HostAddress(i);

    public async Task InitializeAsync()
    {
        _network = await FleetNetwork.CreateAsync(output);
        _head = await Sshd.StartAsync(output, netns: _network.Head, address: _network.HeadAddress);
        _hosts[0] = await StartHostAsync(0, "8x-tesla-v100s-q-x.xml", exitCode: 0);
        _hosts[1] = await StartHostAsync(1, "no-driver.txt", exitCode: 9);
        WriteFleetFile();
    }

    /// <summary>A host's sshd, with an nvidia-smi on its PATH that prints a real capture and exits as the real one did.</summary>
    private async Task<Sshd> StartHostAsync(int i, string capture, int exitCode)
    {
        var bin = Directory.CreateDirectory(_home.File($"bin{i}")).FullName;
        var fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "nvidia-smi", capture);
        var script = Path.Combine(bin, "nvidia-smi");
        await File.WriteAllTextAsync(script, $"#!/bin/sh\ncat '{fixture}'\nexit {exitCode}\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // Each host is a machine of its own for what a login sees: its host name, and root's home (an
        // empty folder mounted on /root in the sshd's mount namespace), where `fleet apply` installs the
        // fleet key. Logins are authorised by that home's authorized_keys, as on a real host.
        var home = Directory.CreateDirectory(HostHome(i)).FullName;
        Directory.CreateDirectory(Path.Combine(home, ".ssh"));
        var sshd = await Sshd.StartAsync(output, netns: _network.Hosts[i], address: Host(i),
            extraConfig: $"SetEnv PATH={bin}:/usr/local/bin:/usr/bin:/bin\nMatch all\n    AuthorizedKeysFile .ssh/authorized_keys",
            launcher: ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", "hostname \"$1\" && mount --bind \"$2\" /root && shift 2 && exec \"$@\"", "sh", HostName(i), home]);
        await File.WriteAllTextAsync(Path.Combine(home, ".ssh", "authorized_keys"), await File.ReadAllTextAsync(sshd.ClientKey + ".pub"));
        // The fleet file names a copy: the sshd's own folder goes when it stops, and the test restarts one.
        File.Copy(sshd.ClientKey, Key(i), overwrite: true);
        File.SetUnixFileMode(Key(i), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return sshd;
    }

    private string Key(int i) => _home.File($"host{i}_ed25519");

    private string HostHome(int i) => _home.File($"home{i}");

    private static string HostName(int i) => $"lab-node{i + 1}";

    /// <summary>Each sshd has its own client key: the file gives each host its own identity_file, as dstack allows.</summary>
    private void WriteFleetFile() => File.WriteAllText(FleetFile, $"""
        type: fleet
        name: lab
        placement: cluster
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
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }
        await _head.DisposeAsync();
        await _network.DisposeAsync();
        _home.Dispose();
    }

    private Task<CommandResult> FleetAsync(params string[] arguments) => FleetAsAsync(ConfigHome, arguments);

    /// <summary>`jumpgate fleet …` as the user whose settings are in <paramref name="configHome"/>.</summary>
    private Task<CommandResult> FleetAsAsync(string configHome, params string[] arguments) =>
        Command.RunAsync(Jumpgate.TestSupport.Jumpgate.Executable, ["fleet", .. arguments], TimeSpan.FromSeconds(90),
            environment: new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = configHome, ["XDG_RUNTIME_DIR"] = "" },
            output: output);

    private async Task<JsonElement> ShowAsync()
    {
        var show = await FleetAsync("show", "lab", "--json");
        Assert.True(show.ExitCode == 0, show.ToString());
        return JsonDocument.Parse(show.Stdout).RootElement;
    }

    private static JsonElement HostOf(JsonElement fleet, string name) =>
        fleet.GetProperty("hosts").EnumerateArray().Single(h => h.GetProperty("name").GetString() == name);

    [Fact]
    public async Task ApplyReachesBothHostsThroughTheHeadNodeAndReadsTheirGpus()
    {
        var apply = await FleetAsync("apply", FleetFile);

        Assert.True(apply.ExitCode == 0, apply.ToString());
        Assert.Contains("2 of 2 hosts reachable, through head node", apply.Stdout);
        Assert.Contains("8x Tesla V100S-PCIE-32GB, 31.7 GiB each, utilisation 0:97% 1:75% 2:80% 3:23% 4:98% 5:98% 6:91% 7:99%", apply.Stdout);
        Assert.Contains("no NVIDIA driver", apply.Stdout);
        // First contact with each machine is said, head included.
        Assert.Contains($"{Host(0)}: first contact, recorded its ED25519 SHA256:", apply.Stderr);
        Assert.Contains($"{Host(1)}: first contact", apply.Stderr);
        Assert.Contains($"{_network.HeadAddress} (head): first contact", apply.Stderr);

        var fleet = await ShowAsync();
        var first = HostOf(fleet, Host(0));
        Assert.True(first.GetProperty("reachable").GetBoolean());
        Assert.Equal(Environment.ProcessorCount, first.GetProperty("facts").GetProperty("cpu_cores").GetInt32());
        var gpus = first.GetProperty("gpus");
        Assert.Equal(("present", "460.73.01"), (gpus.GetProperty("status").GetString(), gpus.GetProperty("driver_version").GetString()));
        var listed = gpus.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], listed.Select(g => g.GetProperty("index").GetInt32()));
        Assert.Equal(("GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e", "GPU-1d955959-c95b-4f40-2cac-100d3006ffe2"),
            (listed[0].GetProperty("uuid").GetString(), listed[7].GetProperty("uuid").GetString()));
        var second = HostOf(fleet, Host(1));
        Assert.True(second.GetProperty("reachable").GetBoolean());
        Assert.Equal("no_driver", second.GetProperty("gpus").GetProperty("status").GetString());

        // Applying again changes nothing: the same hosts, no new keys.
        var again = await FleetAsync("apply", FleetFile);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.DoesNotContain("first contact", again.Stderr);
        Assert.Equal(2, (await ShowAsync()).GetProperty("hosts").GetArrayLength());

        var list = await FleetAsync("ls");
        Assert.Matches(@"lab\s+2\s+2\s+.*8x Tesla V100S-PCIE-32GB", list.Stdout);

        // A file with mistakes is refused whole, each mistake with file, line and field; the fleet stays as it was.
        var appliedAt = (await ShowAsync()).GetProperty("applied_at").GetString();
        var bad = _home.File("bad.yml");
        await File.WriteAllTextAsync(bad, $"""
            type: fleet
            name: lab
            ssh_config:
              user: root
              hosts:
                - hostname: {Host(0)}
                  identity_file: {Key(0)}
                  gpus: 2
                - hostname: {Host(0)}
                  identity_file: {Key(0)}
                - hostname: {Host(1)}
                  identity_file: {_home.File("no-such-key")}
                  blocks: 0
            """);
        var refused = await FleetAsync("apply", bad);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"{bad}:8:", refused.Stderr);
        Assert.Contains("ssh_config.hosts[0].gpus", refused.Stderr);
        Assert.Contains($"{bad}:9:", refused.Stderr);
        Assert.Contains("listed twice (first on line 6)", refused.Stderr);
        Assert.Contains($"{bad}:12:", refused.Stderr);
        Assert.Contains("ssh_config.hosts[2].identity_file", refused.Stderr);
        Assert.Contains($"{bad}:13:", refused.Stderr);
        Assert.Contains("ssh_config.hosts[2].blocks", refused.Stderr);
        Assert.Equal(appliedAt, (await ShowAsync()).GetProperty("applied_at").GetString());
    }

    [Fact]
    public async Task ExecRunsOnBothHostsAtOnceAndReportsEachExitCode()
    {
        Assert.Equal(0, (await FleetAsync("apply", FleetFile)).ExitCode);
        var meeting = Directory.CreateDirectory(_home.File("meeting")).FullName;

        // Each host leaves a mark in a folder both see, then waits (bounded) for the other's:
        // only two commands running at the same time both find two marks.
        var exec = await FleetAsync("exec", "lab", "--timeout", "30s", "--",
            $"set -- $SSH_CONNECTION; touch {meeting}/$3; i=0; while [ $(ls {meeting} | wc -l) -lt 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; echo marks=$(ls {meeting} | wc -l)");

        Assert.True(exec.ExitCode == 0, exec.ToString());
        Assert.Matches($@"(?m)^{Host(0).Replace(".", "\\.")}\s*\| marks=2$", exec.Stdout);
        Assert.Matches($@"(?m)^{Host(1).Replace(".", "\\.")}\s*\| marks=2$", exec.Stdout);
        Assert.Contains("2 of 2 hosts succeeded", exec.Stderr);

        var failing = await FleetAsync("exec", "lab", "--hosts", Host(1), "--", "echo", "about to fail;", "exit", "3");
        Assert.Equal(1, failing.ExitCode);
        Assert.DoesNotContain(Host(0), failing.Stdout + failing.Stderr);
        Assert.Contains($"{Host(1)} | about to fail", failing.Stdout);
        Assert.Contains("0 of 1 hosts succeeded", failing.Stderr);
        Assert.Matches($@"{Host(1).Replace(".", "\\.")}\s+exit 3", failing.Stderr);
    }

    [Fact]
    public async Task AHostThatStopsAnsweringStaysListedAndAChangedKeyIsRefused()
    {
        Assert.Equal(0, (await FleetAsync("apply", FleetFile)).ExitCode);
        var answeredAt = HostOf(await ShowAsync(), Host(1)).GetProperty("last_success").GetDateTimeOffset();

        // The second host goes down (its sshd, and the connection the fleet held to it): it stays in
        // the fleet, unreachable, with ssh's reason and the time of its last answer.
        await _hosts[1]!.DisposeAsync();
        _hosts[1] = null;
        await Command.RunAsync("ssh", ["-F", Path.Combine(ConfigHome, "jumpgate", "fleets", "lab", "ssh_config"), "-O", "exit", Host(1)], TimeSpan.FromSeconds(10));
        var down = await FleetAsync("apply", FleetFile);
        Assert.Equal(2, down.ExitCode);
        var host = HostOf(await ShowAsync(), Host(1));
        Assert.False(host.GetProperty("reachable").GetBoolean());
        Assert.Contains("Connection refused", host.GetProperty("error").GetString());
        Assert.Equal(answeredAt, host.GetProperty("last_success").GetDateTimeOffset());
        Assert.Equal("no_driver", host.GetProperty("gpus").GetProperty("status").GetString());
        Assert.Contains("unreachable", down.Stdout);

        // It comes back reinstalled, with a new host key: refused, with both fingerprints.
        var recorded = host.GetProperty("host_key").GetString()!;
        _hosts[1] = await StartHostAsync(1, "no-driver.txt", exitCode: 9);
        WriteFleetFile();
        var changed = await FleetAsync("apply", FleetFile);
        Assert.Equal(2, changed.ExitCode);
        var error = HostOf(await ShowAsync(), Host(1)).GetProperty("error").GetString()!;
        output.WriteLine(error);
        Assert.Matches(@"the host key changed: the host offered SHA256:\S+, expected ", error);
        Assert.Contains($"expected {recorded}", error);
    }

    [Fact]
    public async Task RunStartsMpirunOnTheFirstHostAndItsRanksReachTheOther()
    {
        var apply = await FleetAsync("apply", FleetFile);
        Assert.True(apply.ExitCode == 0, apply.ToString());

        // Each host now trusts the fleet key and names the other hosts by their private addresses.
        for (var i = 0; i < 2; i++)
        {
            Assert.Contains("jumpgate-fleet-lab", await File.ReadAllTextAsync(Path.Combine(HostHome(i), ".ssh", "authorized_keys")));
            Assert.Contains("Include ~/.jumpgate/fleets/*/ssh_config", await File.ReadAllTextAsync(Path.Combine(HostHome(i), ".ssh", "config")));
            Assert.Contains($"Host {Host(1 - i)}", await File.ReadAllTextAsync(Path.Combine(HostHome(i), ".jumpgate", "fleets", "lab", "ssh_config")));
        }
        // Applying again adds nothing twice.
        Assert.Equal(0, (await FleetAsync("apply", FleetFile)).ExitCode);
        var keys = await File.ReadAllLinesAsync(Path.Combine(HostHome(0), ".ssh", "authorized_keys"));
        Assert.Single(keys, k => k.EndsWith("jumpgate-fleet-lab", StringComparison.Ordinal));

        // One slot per GPU; the host without a driver gets one per core.
        var hostfile = await FleetAsync("hostfile", "lab");
        Assert.Equal($"{Host(0)} slots=8\n{Host(1)} slots={Environment.ProcessorCount}\n", hostfile.Stdout);

        // mpirun runs on the first host and starts its second rank on the other over ssh: this machine
        // has no route to either host, so the ranks can only have met inside the fleet.
        var run = await FleetAsync("run", "lab", "--nodes", "2", "--",
            "mpirun", "--allow-run-as-root", "--hostfile", "$JUMPGATE_MPI_HOSTFILE", "--map-by", "node", "-np", "2", "hostname");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal([HostName(0), HostName(1)], run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order());
        Assert.Contains($"running on 2 nodes ({Host(0)}, {Host(1)}), started on {Host(0)}", run.Stderr);

        var allreduce = await FleetAsync("run", "lab", "--",
            "mpirun --allow-run-as-root --hostfile $JUMPGATE_MPI_HOSTFILE --map-by node -np 2 --mca btl tcp,self " +
            "/usr/bin/python3 -c 'from mpi4py import MPI; c = MPI.COMM_WORLD; print(c.allreduce(c.rank + 1), MPI.Get_processor_name())'");
        Assert.True(allreduce.ExitCode == 0, allreduce.ToString());
        Assert.Equal([$"3 {HostName(0)}", $"3 {HostName(1)}"], allreduce.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order());

        var environment = await FleetAsync("run", "lab", "--nodes", "2", "--master-port", "29511", "--", "env");
        Assert.True(environment.ExitCode == 0, environment.ToString());
        var variables = environment.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Subset(variables.ToHashSet(), new HashSet<string>
        {
            "JUMPGATE_NODES=2", "JUMPGATE_NODE_RANK=0", $"JUMPGATE_MASTER_ADDR={Host(0)}", "JUMPGATE_GPUS_PER_NODE=0",
            "JUMPGATE_MPI_HOSTFILE=/root/.jumpgate/fleets/lab/hostfile",
            $"MASTER_ADDR={Host(0)}", "MASTER_PORT=29511", "NNODES=2", "NODE_RANK=0",
        });

        // torchrun's way: the command on each node at once, each with its rank; the first failing rank's status.
        var each = await FleetAsync("run", "lab", "--each-node", "--", "echo rank=$NODE_RANK of $NNODES on $(hostname) master=$MASTER_ADDR; exit $JUMPGATE_NODE_RANK");
        Assert.Equal(1, each.ExitCode);
        Assert.Matches($@"(?m)^{Host(0).Replace(".", "\\.")}\s*\| rank=0 of 2 on {HostName(0)} master={Host(0).Replace(".", "\\.")}$", each.Stdout);
        Assert.Matches($@"(?m)^{Host(1).Replace(".", "\\.")}\s*\| rank=1 of 2 on {HostName(1)} master={Host(0).Replace(".", "\\.")}$", each.Stdout);
        Assert.Contains($"{Host(1)}: exit 1", each.Stderr);

        // The job's exit status is the command's.
        var failing = await FleetAsync("run", "lab", "--nodes", "1", "--", "echo", "failing;", "exit", "7");
        Assert.Equal(7, failing.ExitCode);
        Assert.Contains("failing", failing.Stdout);

        var tooMany = await FleetAsync("run", "lab", "--nodes", "3", "--", "true");
        Assert.NotEqual(0, tooMany.ExitCode);
        Assert.Contains("fleet lab has 2 hosts", tooMany.Stderr);
    }

    [Fact]
    public async Task ApplyReachesTheSameHostsThroughAnAgentOnTheHeadNode()
    {
        await using var deployment = await Deployment.StartAsync(output, listen: $"{_network.LaptopAddress}:0");
        await deployment.AddAgentAsync("head", "node*");
        await deployment.StartAgentAsync("head", $"""
            node1:
              address: {Host(0)}
              services:
                ssh: 22
            node2:
              address: {Host(1)}
              services:
                ssh: 22
            """, netns: _network.Head);
        var file = _home.File("gateway-fleet.yml");
        await File.WriteAllTextAsync(file, $"""
            type: fleet
            name: gw
            ssh_config:
              user: root
              hosts:
                - hostname: node1.jg
                  identity_file: {Key(0)}
                - hostname: node2.jg
                  identity_file: {Key(1)}
            """);
        var config = Path.Combine(deployment.ClientHome, "jumpgate", "fleets", "gw", "ssh_config");
        try
        {
            var apply = await FleetAsAsync(deployment.ClientHome, "apply", file);

            Assert.True(apply.ExitCode == 0, apply.ToString());
            Assert.Contains("2 of 2 hosts reachable", apply.Stdout);
            Assert.Matches(@"node1\.jg\s+up\s.*8x Tesla V100S-PCIE-32GB", apply.Stdout);
            Assert.Matches(@"node2\.jg\s+up\s.*no NVIDIA driver", apply.Stdout);
            Assert.Contains("connecting through the gateway", apply.Stderr);

            var exec = await FleetAsAsync(deployment.ClientHome, "exec", "gw", "--", "echo", "reached");
            Assert.True(exec.ExitCode == 0, exec.ToString());
            Assert.Contains("node1.jg | reached", exec.Stdout);
            Assert.Contains("node2.jg | reached", exec.Stdout);
        }
        finally
        {
            foreach (var alias in new[] { "node1.jg", "node2.jg" })
            {
                await Command.RunAsync("ssh", ["-F", config, "-O", "exit", alias], TimeSpan.FromSeconds(10));
            }
        }
    }
}
