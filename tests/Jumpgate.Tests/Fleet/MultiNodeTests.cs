using Jumpgate.Cli.Fleet;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Fleet;

/// <summary>What a multi-node job is given: the hostfile, the hosts' own ssh config, the job's variables.</summary>
public sealed class MultiNodeTests : IDisposable
{
    private readonly TempDirectory _directory = new("jg-fleet-multi");

    public void Dispose() => _directory.Dispose();

    private static HostState Host(string name, int gpus = 0, int? cores = 16, string? address = null, bool reachable = true) => new()
    {
        Name = name,
        User = "ubuntu",
        Address = address ?? name,
        Reachable = reachable,
        PeerAccess = reachable,
        Facts = new HostFacts { CpuCores = cores },
        Gpus = gpus == 0
            ? new GpuInventory { Status = GpuStatus.NoNvidiaSmi }
            : new GpuInventory { Status = GpuStatus.Present, Gpus = [.. Enumerable.Range(0, gpus).Select(i => new Gpu { Index = i, Name = "NVIDIA H100 80GB HBM3", Uuid = $"GPU-{i}" })] },
    };

    [Fact]
    public void HostfileGivesASlotPerGpuOrPerCoreAndNamesJumpgateHostsByAddress()
    {
        var text = Hostfile.Write([Host("10.0.0.11", gpus: 8), Host("10.0.0.12", cores: 64), Host("node3.jg", gpus: 4, address: "10.0.0.13"), Host("10.0.0.14", cores: null)]);

        Assert.Equal("10.0.0.11 slots=8\n10.0.0.12 slots=64\n10.0.0.13 slots=4  # node3.jg\n10.0.0.14 slots=1\n", text);
    }

    [Fact]
    public void OnlyHostsThatAnsweredAndHoldTheKeyAreUsable()
    {
        var fleet = new FleetState
        {
            Name = "lab",
            Source = "/fleet.yml",
            AppliedAt = DateTimeOffset.UnixEpoch,
            Hosts = [Host("a"), Host("b", reachable: false), Host("c") with { PeerAccess = false }, Host("d") with { Address = null }, Host("e")],
        };

        Assert.Equal(["a", "e"], Hostfile.Usable(fleet).Select(h => h.Name));
    }

    [Fact]
    public void HostsSshConfigNamesEveryHostByAddressWithTheFleetKeyAndRecordedKeys()
    {
        var config = PeerAccess.Config("lab", [Host("10.0.0.11"), Host("node3.jg", address: "10.0.0.13") with { Port = 2222 }]);

        Assert.Contains("Host 10.0.0.13\n    HostKeyAlias node3.jg\n    User ubuntu\n    Port 2222\n", config.ReplaceLineEndings("\n"));
        Assert.Contains("Host 10.0.0.11 10.0.0.13\n    IdentityFile ~/.jumpgate/fleets/lab/id_ed25519\n", config.ReplaceLineEndings("\n"));
        Assert.Contains("StrictHostKeyChecking yes", config);
    }

    [Fact]
    public async Task InstallScriptWritesTheFleetFilesAndAddsKeyAndIncludeOnce()
    {
        var home = Directory.CreateDirectory(_directory.File("home")).FullName;
        Directory.CreateDirectory(Path.Combine(home, ".ssh"));
        await File.WriteAllTextAsync(Path.Combine(home, ".ssh", "config"), "Host old\n    User me\n");
        var script = PeerAccess.Script("lab", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "ssh-ed25519 AAAAC3Nza jumpgate-fleet-lab\n", ["10.0.0.11 ssh-ed25519 AAAAkey"], "Host 10.0.0.11\n");

        for (var run = 0; run < 2; run++)
        {
            var result = await Command.RunAsync("sh", ["-c", script], TimeSpan.FromSeconds(30), environment: new Dictionary<string, string> { ["HOME"] = home });
            Assert.True(result.ExitCode == 0, result.ToString());
        }

        var folder = Path.Combine(home, ".jumpgate", "fleets", "lab");
        Assert.Equal("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", await File.ReadAllTextAsync(Path.Combine(folder, "id_ed25519")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, "id_ed25519")));
        Assert.Equal("10.0.0.11 ssh-ed25519 AAAAkey\n", await File.ReadAllTextAsync(Path.Combine(folder, "known_hosts")));
        Assert.Equal(["ssh-ed25519 AAAAC3Nza jumpgate-fleet-lab"], await File.ReadAllLinesAsync(Path.Combine(home, ".ssh", "authorized_keys")));
        var config = await File.ReadAllLinesAsync(Path.Combine(home, ".ssh", "config"));
        Assert.Single(config, l => l == PeerAccess.Include);
        Assert.True(Array.IndexOf(config, PeerAccess.Include) < Array.IndexOf(config, "Host old"), "the include comes before the first Host line");
        Assert.Contains("    User me", config);
    }

    [Fact]
    public async Task RemoteCommandWritesTheHostfileAndExportsTheJobsVariables()
    {
        var home = Directory.CreateDirectory(_directory.File("master")).FullName;
        var command = FleetRun.RemoteCommand("lab", [Host("10.0.0.11", gpus: 8), Host("10.0.0.12", gpus: 4)], rank: 1, 29500,
            "cat $JUMPGATE_MPI_HOSTFILE; env | grep -E '^(JUMPGATE_(NODES|NODE_RANK|MASTER_ADDR|GPUS_PER_NODE|MPI_HOSTFILE)|MASTER_ADDR|MASTER_PORT|NNODES|NODE_RANK)=' | sort");

        var result = await Command.RunAsync("sh", ["-c", command], TimeSpan.FromSeconds(30), stdin: "10.0.0.11 slots=8\n",
            environment: new Dictionary<string, string> { ["HOME"] = home });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(
            [
                "10.0.0.11 slots=8",
                "JUMPGATE_GPUS_PER_NODE=4", $"JUMPGATE_MASTER_ADDR=10.0.0.11", $"JUMPGATE_MPI_HOSTFILE={home}/.jumpgate/fleets/lab/hostfile",
                "JUMPGATE_NODES=2", "JUMPGATE_NODE_RANK=1", "MASTER_ADDR=10.0.0.11", "MASTER_PORT=29500", "NNODES=2", "NODE_RANK=1",
            ],
            result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void ReadsTheHostsAddressesIpv4First()
    {
        var facts = HostFacts.Parse("hostname=node1\naddresses=fd00::2 192.0.2.2 10.0.0.5 \n");

        Assert.Equal(["192.0.2.2", "10.0.0.5", "fd00::2"], facts.Addresses);
        Assert.Null(HostFacts.Parse("hostname=node1\naddresses=\n").Addresses);
    }
}
