using System.CommandLine;
using Jumpgate.Cli.Environments;
using Jumpgate.Core.Config;

namespace Jumpgate.Cli.Commands;

/// <summary>`jumpgate env`: one environment.yml kept true on many hosts, read and changed over the user's OpenSSH.</summary>
internal static class EnvCommands
{
    public static Command Create() => new("env", """
        Environments as code across hosts: compare what each host has installed with an environment.yml
        (conda packages and its pip: list), and bring the hosts that drift back to it. Hosts are a fleet
        (`jumpgate fleet apply`) or named with --hosts and reached with your own ssh config (for NAME.jg
        hosts, what `jumpgate ssh-config` wrote). Each host is read with one ssh connection, all at once.

        Examples:
          jumpgate env check environment.yml --fleet lab
          jumpgate env check environment.yml --hosts node1.jg,node2.jg --json
          jumpgate env sync environment.yml --fleet lab --dry-run
          jumpgate env export --host node1.jg --name train -o environment.yml
        """)
    {
        Check(),
        Sync(),
        Export(),
    };

    private sealed record Selection(Argument<string> File, Option<string?> Fleet, Option<string?> Hosts, Option<string?> SshConfig, Option<string?> Python, Option<TimeSpan?> Timeout)
    {
        public static Selection Create(string timeoutWhat, TimeSpan timeoutDefault) => new(
            new Argument<string>("file") { Description = "The environment.yml (name, channels, dependencies, pip:)" },
            new Option<string?>("--fleet") { Description = "Every host of this fleet, reached as `jumpgate fleet` reaches them" },
            new Option<string?>("--hosts") { Description = "These hosts, comma-separated (node1.jg,node2.jg), reached with your ssh config" },
            new Option<string?>("--ssh-config") { Description = "With --hosts: this ssh config instead of yours (ssh -F)" },
            new Option<string?>("--python") { Description = "For a pip-only spec: the Python on each host to check (a venv's bin/python, /usr/bin/python3) instead of a conda environment" },
            TimeoutOption(timeoutWhat, timeoutDefault));

        public IEnumerable<Symbol> Symbols => [File, Fleet, Hosts, SshConfig, Python, Timeout];

        public (EnvironmentSpec Spec, EnvHosts Hosts, string? Python) Read(ParseResult result) =>
            (EnvironmentFile.Load(Path.GetFullPath(result.GetValue(File)!)),
             EnvHosts.Resolve(result.GetValue(Fleet), result.GetValue(Hosts), result.GetValue(SshConfig)),
             result.GetValue(Python));
    }

    private static Command Check()
    {
        var selection = Selection.Create("How long each host may take to answer", CheckTimeout);
        var extra = new Option<bool>("--extra") { Description = "Also list packages a host has that the file does not name" };
        var json = Options.Json();
        var command = new Command("check", Options.Describe(
            """
            Compare each host's environment with the file: a matrix of packages down and hosts across, each cell
            ok, missing, wrong (with the version installed) or, with --extra, extra. conda, mamba or micromamba is
            found on each host by itself; a pip-only file can be checked against a venv or system Python
            (--python). Exit status: 0 when no host drifts, 1 when one does (or has no conda, or not the
            environment), 2 when a host could not be checked (the reason is printed per host).
            """,
            "jumpgate env check environment.yml --fleet lab",
            "jumpgate env check requirements-env.yml --hosts node1.jg,node2.jg --python ~/venv/bin/python --extra"))
        {
            extra, json,
        };
        foreach (var symbol in selection.Symbols)
        {
            Add(command, symbol);
        }
        command.SetAction(async (result, cancellationToken) =>
        {
            var (spec, hosts, python) = selection.Read(result);
            var check = new EnvCheck(hosts, result.GetValue(selection.Timeout) ?? CheckTimeout);
            var report = DriftCheck.Compare(spec, await check.ReadAsync(spec, python, cancellationToken), result.GetValue(extra));
            if (result.GetValue(json))
            {
                Console.WriteLine(DriftMatrix.Json(report));
            }
            else
            {
                DriftMatrix.Write(Console.Out, report);
            }
            return report.ExitCode;
        });
        return command;
    }

    private static Command Sync()
    {
        var selection = Selection.Create("How long the update may run on each host", SyncTimeout);
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the commands each drifting host would run, and run nothing" };
        var logs = new Option<string?>("--logs") { Description = "The folder for each host's log (default: env-logs/NAME under the CLI's settings)" };
        var command = new Command("sync", Options.Describe(
            """
            Bring the hosts that drift to the file: on each, in parallel, `conda env update --prune --file` (or
            mamba's; micromamba install or create), or `pip install -r` for a pip-only file checked against a
            Python; the file travels in the command's stdin. Each host's output goes to a log file of its own;
            then every host is checked again and the matrix printed, with check's exit status.
            """,
            "jumpgate env sync environment.yml --fleet lab --dry-run",
            "jumpgate env sync environment.yml --hosts node1.jg,node2.jg"))
        {
            dryRun, logs,
        };
        foreach (var symbol in selection.Symbols)
        {
            Add(command, symbol);
        }
        command.SetAction(async (result, cancellationToken) =>
        {
            var (spec, hosts, python) = selection.Read(result);
            var sync = new EnvSync(hosts, Console.Out, Console.Error)
            {
                CheckTimeout = CheckTimeout,
                SyncTimeout = result.GetValue(selection.Timeout) ?? SyncTimeout,
                LogFolder = result.GetValue(logs) is { } folder ? Path.GetFullPath(folder) : EnvSync.DefaultLogFolder(spec),
                Live = !Console.IsErrorRedirected,
            };
            return await sync.RunAsync(spec, python, result.GetValue(dryRun), cancellationToken);
        });
        return command;
    }

    private static Command Export()
    {
        var host = new Option<string>("--host") { Description = "The host to read, reached with your ssh config (node1.jg)", Required = true };
        var name = new Option<string?>("--name") { Description = "The conda environment (required where the host has conda)" };
        var python = new Option<string?>("--python") { Description = "Export this Python's pip packages instead (a venv's bin/python)" };
        var sshConfig = new Option<string?>("--ssh-config") { Description = "This ssh config instead of yours (ssh -F)" };
        var file = new Option<string?>("--output", "-o") { Description = "Write the file here (never over an existing one) instead of to stdout" };
        var command = new Command("export", Options.Describe(
            """
            Write a host's environment as an environment.yml, so a known-good machine becomes the spec: what
            `conda env export --from-history` gives (the packages asked for, not everything they pulled in), or,
            on a host without conda or with --python, its top-level pip packages pinned to what is installed.
            """,
            "jumpgate env export --host node1.jg --name train -o environment.yml",
            "jumpgate env export --host node1.jg --python '~/venv/bin/python'"))
        {
            host, name, python, sshConfig, file,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var hostName = result.GetValue(host)!;
            var ssh = Fleet.Ssh.UserConfig(result.GetValue(sshConfig));
            var answer = await ssh.ExecAsync(hostName, "sh -s", EnvExport.Script(result.GetValue(name), result.GetValue(python)), CheckTimeout, onLine: null, cancellationToken);
            if (answer.SshFailed)
            {
                throw new Client.CliException($"{hostName}: {(answer.TimedOut ? $"no answer within {CheckTimeout.TotalSeconds:0}s" : Fleet.Ssh.Describe(answer.Stderr, hostName))}");
            }
            var text = EnvExport.ToEnvironmentFile(hostName, result.GetValue(name), new EnvExport.SshResultText(answer.ExitCode, answer.Stdout, answer.Stderr));
            if (result.GetValue(file) is { } path)
            {
                await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
                await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), cancellationToken);
                Console.Error.WriteLine($"wrote {path}");
            }
            else
            {
                Console.Write(text);
            }
            return 0;
        });
        return command;
    }

    private static void Add(Command command, Symbol symbol)
    {
        switch (symbol)
        {
            case Argument argument:
                command.Arguments.Add(argument);
                break;
            case Option option:
                command.Options.Add(option);
                break;
        }
    }

    private static Option<TimeSpan?> TimeoutOption(string description, TimeSpan @default) => new("--timeout")
    {
        Description = $"{description} (30s, 5m, 1h; default {Durations.Humanize(@default)})",
        CustomParser = argument =>
        {
            if (Durations.TryParse(argument.Tokens.Single().Value, out var value))
            {
                return value;
            }
            argument.AddError($"--timeout {argument.Tokens.Single().Value} is not a duration such as 30s or 5m");
            return null;
        },
    };

    /// <summary>conda list on a cold disk takes a few seconds, the ssh handshake through the gateway one or two.</summary>
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A conda solve and download of CUDA packages can take long; past an hour something is stuck.</summary>
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromHours(1);
}
