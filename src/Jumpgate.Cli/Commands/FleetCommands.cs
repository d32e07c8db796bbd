using System.CommandLine;
using System.Text.Json;
using Jumpgate.Cli.Fleet;
using Jumpgate.Core.Config;

namespace Jumpgate.Cli.Commands;

/// <summary>`jumpgate fleet`: many hosts as one, described by a dstack-style fleet file and reached with OpenSSH.</summary>
internal static class FleetCommands
{
    public static Command Create() => new("fleet", """
        Many GPU hosts as one fleet: what each has (GPUs one by one, CPU, memory, disk, OS, Python),
        whether it answers, one command on all of them, and multi-node jobs (mpirun, torchrun) that run
        inside the fleet. A fleet file uses dstack's SSH fleet format; hosts are reached with the system's
        OpenSSH, directly, through a head node (proxy_jump), or through the gateway for NAME.jg hosts
        (run `jumpgate login` first).

        A fleet file:
          type: fleet
          name: lab
          ssh_config:
            user: ubuntu
            identity_file: ~/.ssh/lab_ed25519
            hosts:
              - 10.0.0.11
              - hostname: 10.0.0.12
                port: 2222
              - node3.jg                # through the gateway
            proxy_jump:                 # optional head node; every non-.jg host is reached through it
              hostname: head.example.org

        Examples:
          jumpgate fleet apply fleet.yml
          jumpgate fleet show lab
          jumpgate fleet exec lab -- nvidia-smi -L
          jumpgate fleet run lab --nodes 2 -- mpirun --hostfile \$JUMPGATE_MPI_HOSTFILE -np 16 python train.py
        """)
    {
        Apply(),
        List(),
        Show(),
        Exec(),
        HostfileCommand(),
        Run(),
    };

    private static Command Apply()
    {
        var file = new Argument<string>("file") { Description = "The fleet file (dstack's SSH fleet format)" };
        var strict = new Option<bool>("--strict") { Description = "Refuse hosts whose key is not yet in the fleet's known_hosts, instead of recording it on first contact (accept-new)" };
        var timeout = TimeoutOption("How long each step on a host (connect, facts, GPUs) may take", StepTimeout);
        var json = Options.Json();
        var command = new Command("apply", Options.Describe(
            """
            Read a fleet file, reach every host in parallel and record what it has: reachable or why not,
            OS, kernel, CPU, memory, disk, Python and every GPU (one nvidia-smi -q -x per host). Nothing is
            applied when the file has a mistake. Re-applying updates the fleet; a host that stops answering
            stays listed, unreachable, with the reason and when it last answered. Host keys go to the fleet's
            own known_hosts; a key that changes is refused with both fingerprints.
            """,
            "jumpgate fleet apply fleet.yml",
            "jumpgate fleet apply fleet.yml --strict"))
        {
            file, strict, timeout, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var path = Path.GetFullPath(result.GetValue(file)!);
            var spec = FleetFile.Load(path);
            var apply = new FleetApply(FleetStore.Default, Console.Error, TimeProvider.System)
            {
                Strict = result.GetValue(strict),
                StepTimeout = result.GetValue(timeout) ?? StepTimeout,
                Live = !Console.IsErrorRedirected,
            };
            var state = await apply.RunAsync(spec, path, cancellationToken);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(state, FleetJson.Default.FleetState));
            }
            else
            {
                FleetTable.Write(Console.Out, state);
            }
            return state.Hosts.All(h => h.Reachable && h.PeerAccess) ? 0 : 2;
        });
        return command;
    }

    private static Command List()
    {
        var json = Options.Json();
        var command = new Command("ls", Options.Describe(
            "List the fleets applied on this machine: hosts, how many answered last time, GPUs by model.",
            "jumpgate fleet ls"))
        {
            json,
        };
        command.SetAction(result =>
        {
            var store = FleetStore.Default;
            var fleets = store.Names().Select(store.Load).ToList();
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize<IReadOnlyList<FleetState>>(fleets, FleetJson.Default.IReadOnlyListFleetState));
                return 0;
            }
            if (fleets.Count == 0)
            {
                Console.Error.WriteLine("no fleets yet: run `jumpgate fleet apply FILE`");
                return 0;
            }
            FleetTable.WriteList(Console.Out, fleets);
            return 0;
        });
        return command;
    }

    private static Command Show()
    {
        var name = new Argument<string>("name") { Description = "The fleet's name (its file's name: field)" };
        var json = Options.Json();
        var command = new Command("show", Options.Describe(
            "Show what a fleet's hosts had when it was last applied: one row per host, its GPUs grouped by model.",
            "jumpgate fleet show lab",
            "jumpgate fleet show lab --json | jq '.hosts[] | {name, gpus: [.gpus.gpus[].name]}'"))
        {
            name, json,
        };
        command.SetAction(result =>
        {
            var state = FleetStore.Default.Load(result.GetValue(name)!);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(state, FleetJson.Default.FleetState));
            }
            else
            {
                FleetTable.Write(Console.Out, state);
            }
            return 0;
        });
        return command;
    }

    private static Command Exec()
    {
        var name = new Argument<string>("name") { Description = "The fleet's name" };
        var commandLine = new Argument<string[]>("command") { Description = "The command, after --; run by each host's login shell, as ssh runs it", Arity = ArgumentArity.OneOrMore };
        var hosts = new Option<string?>("--hosts") { Description = "Only the hosts whose name matches this pattern (* and ?), e.g. 'node*'" };
        var timeout = TimeoutOption("How long the command may run on each host; a host past it counts as failed", ExecTimeout);
        var command = new Command("exec", Options.Describe(
            """
            Run a command on every host of a fleet at once. Each output line comes prefixed with its host;
            at the end, each host's exit code. The exit status is 0 only when the command succeeded everywhere.
            """,
            "jumpgate fleet exec lab -- nvidia-smi --query-gpu=name,utilization.gpu --format=csv",
            "jumpgate fleet exec lab --hosts 'node*' --timeout 30s -- uptime"))
        {
            name, commandLine, hosts, timeout,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var store = FleetStore.Default;
            var fleet = store.Load(result.GetValue(name)!);
            var outcomes = await new FleetExec(store, Console.Out, Console.Error)
                .RunAsync(fleet, string.Join(' ', result.GetValue(commandLine)!), result.GetValue(hosts), result.GetValue(timeout) ?? ExecTimeout, cancellationToken);
            var width = outcomes.Max(o => o.Host.Length);
            var failed = outcomes.Count(o => !o.Succeeded);
            Console.Error.WriteLine($"{outcomes.Count - failed} of {outcomes.Count} hosts succeeded");
            foreach (var outcome in outcomes)
            {
                Console.Error.WriteLine($"  {outcome.Host.PadRight(width)}  {outcome.Failure ?? $"exit {outcome.ExitCode}"}");
            }
            return failed == 0 ? 0 : 1;
        });
        return command;
    }

    private static Command HostfileCommand()
    {
        var name = new Argument<string>("name") { Description = "The fleet's name" };
        var nodes = NodesOption("Only the first N hosts (in the fleet file's order) that answered the last apply");
        var command = new Command("hostfile", Options.Describe(
            """
            Print an Open MPI hostfile of the fleet: the hosts that answered the last apply and hold the fleet
            key, by their private addresses, with one slot per GPU (per core on a host without GPUs).
            """,
            "jumpgate fleet hostfile lab",
            "jumpgate fleet hostfile lab --nodes 2 > hostfile"))
        {
            name, nodes,
        };
        command.SetAction(result =>
        {
            var fleet = FleetStore.Default.Load(result.GetValue(name)!);
            var usable = Hostfile.Usable(fleet);
            var wanted = result.GetValue(nodes) ?? usable.Count;
            if (usable.Count < wanted || usable.Count == 0)
            {
                Console.Error.WriteLine($"fleet {fleet.Name} has {usable.Count} host{(usable.Count == 1 ? "" : "s")} ready for a job (answered the last apply, hold the fleet key); see `jumpgate fleet show {fleet.Name}`");
                return 1;
            }
            Console.Write(Hostfile.Write(usable.Take(wanted)));
            return 0;
        });
        return command;
    }

    private static Command Run()
    {
        var name = new Argument<string>("name") { Description = "The fleet's name" };
        var commandLine = new Argument<string[]>("command") { Description = "The command, after --; run by the first host's login shell", Arity = ArgumentArity.OneOrMore };
        var nodes = NodesOption("How many hosts take part: the first N (in the fleet file's order) that answer now (default: all)");
        var masterPort = new Option<int?>("--master-port") { Description = $"MASTER_PORT, torchrun's rendezvous port on the first host (default {FleetRun.DefaultMasterPort})" };
        var eachNode = new Option<bool>("--each-node") { Description = "Run the command on each of the N hosts at once, each with its own JUMPGATE_NODE_RANK and NODE_RANK (torchrun without mpirun); output lines are prefixed with the host" };
        var timeout = TimeoutOption("How long the job may run", @default: null);
        var command = new Command("run", Options.Describe(
            """
            Run a multi-node job: pick N hosts that answer now, copy the MPI hostfile to the first and run the
            command there, its output streamed here, its exit status returned. The command sees
            JUMPGATE_NODES, JUMPGATE_NODE_RANK (0), JUMPGATE_MASTER_ADDR (the first host's private address),
            JUMPGATE_GPUS_PER_NODE (the fewest GPUs of the hosts), JUMPGATE_MPI_HOSTFILE, and torchrun's
            MASTER_ADDR, MASTER_PORT, NNODES and NODE_RANK. mpirun starts the other ranks inside the fleet:
            `fleet apply` gave every host the fleet key and an ssh config naming the others. With --each-node
            the command runs on every host, each with its rank. Quote $ so that the hosts' shell expands it, not yours.
            """,
            "jumpgate fleet run lab --nodes 2 -- mpirun --hostfile \\$JUMPGATE_MPI_HOSTFILE -np 2 hostname",
            "jumpgate fleet run lab -- 'mpirun --hostfile $JUMPGATE_MPI_HOSTFILE -np 16 python train.py'",
            "jumpgate fleet run lab --each-node -- 'torchrun --nnodes $NNODES --node-rank $NODE_RANK --nproc-per-node $JUMPGATE_GPUS_PER_NODE --master-addr $MASTER_ADDR --master-port $MASTER_PORT train.py'"))
        {
            name, commandLine, nodes, masterPort, eachNode, timeout,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var store = FleetStore.Default;
            var fleet = store.Load(result.GetValue(name)!);
            return await new FleetRun(store, Console.Out, Console.Error) { EachNode = result.GetValue(eachNode) }.RunAsync(
                fleet,
                string.Join(' ', result.GetValue(commandLine)!),
                result.GetValue(nodes),
                result.GetValue(masterPort) ?? FleetRun.DefaultMasterPort,
                result.GetValue(timeout) ?? Timeout.InfiniteTimeSpan,
                cancellationToken);
        });
        return command;
    }

    private static Option<int?> NodesOption(string description) => new("--nodes")
    {
        Description = description,
        Validators =
        {
            result =>
            {
                if (result.GetValueOrDefault<int?>() is < 1)
                {
                    result.AddError("--nodes must be 1 or more");
                }
            },
        },
    };

    /// <summary>A duration option; its default is said in the description and applied where the option is read.</summary>
    private static Option<TimeSpan?> TimeoutOption(string description, TimeSpan? @default) => new("--timeout")
    {
        Description = $"{description} (500ms, 30s, 5m; default {(@default is { } value ? Durations.Humanize(value) : "no limit")})",
        CustomParser = argument =>
        {
            if (Durations.TryParse(argument.Tokens.Single().Value, out var value))
            {
                return value;
            }
            argument.AddError($"--timeout {argument.Tokens.Single().Value} is not a duration such as 500ms, 30s or 5m");
            return null;
        },
    };

    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromMinutes(10);
}
