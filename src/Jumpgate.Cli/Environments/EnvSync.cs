using System.Security.Cryptography;
using System.Text;
using Jumpgate.Cli.Client;
using Jumpgate.Cli.Fleet;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// Brings drifting hosts to the spec: checks every host, runs the update on those that drift (all at
/// once, each host's output to a log file of its own), then checks every host again.
/// </summary>
internal sealed class EnvSync(EnvHosts hosts, TextWriter output, TextWriter errors)
{
    public required TimeSpan CheckTimeout { get; init; }

    public required TimeSpan SyncTimeout { get; init; }

    public required string LogFolder { get; init; }

    public bool Live { get; init; }

    /// <summary>Where the spec's file goes on the host, as the command shows it; the script puts it in a temporary folder.</summary>
    private const string SpecWord = "\0spec";

    public static string DefaultLogFolder(EnvironmentSpec spec) => Path.Combine(ClientSettings.Directory, "env-logs", spec.Name ?? "pip");

    public async Task<int> RunAsync(EnvironmentSpec spec, string? python, bool dryRun, CancellationToken cancellationToken)
    {
        var check = new EnvCheck(hosts, CheckTimeout);
        var before = DriftCheck.Compare(spec, await check.ReadAsync(spec, python, cancellationToken), extra: false);
        var plans = new List<(HostInventory Host, IReadOnlyList<string> Command)>();
        foreach (var host in before.Hosts)
        {
            if (host.Status == HostStatus.Failed)
            {
                errors.WriteLine($"{host.Host}: skipped, {DriftMatrix.Describe(host, spec)}");
            }
            else if (host.Status == HostStatus.NoConda)
            {
                errors.WriteLine($"{host.Host}: skipped, no conda, mamba or micromamba (install Miniforge, or check a pip-only file with --python)");
            }
            else if (!before.HostDrifts(host.Host))
            {
                errors.WriteLine($"{host.Host}: no drift");
            }
            else
            {
                plans.Add((host, Command(host, spec)));
            }
        }
        if (dryRun)
        {
            foreach (var (host, command) in plans)
            {
                output.WriteLine($"{host.Host}: {Display(command, spec)}");
            }
            return before.ExitCode;
        }
        if (plans.Count > 0)
        {
            Directory.CreateDirectory(LogFolder);
            await using var board = new ProgressBoard(plans.Select(p => p.Host.Host).ToList(), errors, Live);
            await Task.WhenAll(plans.Select(plan => SyncAsync(plan.Host, plan.Command, spec, board, cancellationToken)));
        }
        var after = DriftCheck.Compare(spec, await check.ReadAsync(spec, python, cancellationToken), extra: false);
        DriftMatrix.Write(output, after);
        return after.ExitCode;
    }

    /// <summary>The command that brings a host's environment to the spec, with what the host has.</summary>
    public static IReadOnlyList<string> Command(HostInventory host, EnvironmentSpec spec)
    {
        if (!host.UsesConda)
        {
            return [host.PythonPath!, "-m", "pip", "install", "-r", SpecWord];
        }
        var exists = host.Status != HostStatus.NoEnvironment && host.Prefix is not null;
        return host.Manager switch
        {
            // micromamba has no `env update`; install into an environment that exists, create one that does not.
            "micromamba" => exists
                ? [host.ManagerPath!, "install", "--yes", "--prefix", host.Prefix!, "--file", SpecWord]
                : [host.ManagerPath!, "create", "--yes", "--name", spec.Name!, "--file", SpecWord],
            // conda and mamba create the environment when it is missing; --prune removes what the file no longer names.
            _ => exists
                ? [host.ManagerPath!, "env", "update", "--prune", "--prefix", host.Prefix!, "--file", SpecWord]
                : [host.ManagerPath!, "env", "update", "--prune", "--file", SpecWord],
        };
    }

    private static string Display(IReadOnlyList<string> command, EnvironmentSpec spec) =>
        string.Join(' ', command.Select(w => w == SpecWord ? (command.Contains("pip") ? "requirements.txt" : Path.GetFileName(spec.Path)) : w.Any(c => c is ' ' or '\'' or '"' or '$') ? HostProbe.Quote(w) : w))
        + (command.Contains("pip") ? $" (the pip: list of {Path.GetFileName(spec.Path)}, sent on stdin)" : " (sent on stdin)");

    /// <summary>A script that writes the file the command reads (a heredoc with a delimiter the file cannot contain), runs it, and removes the file.</summary>
    public static string Script(IReadOnlyList<string> command, EnvironmentSpec spec, bool pipOnly)
    {
        var content = pipOnly ? string.Join('\n', spec.Pip.Select(p => p.Text)) + "\n" : spec.Source.TrimEnd('\n') + "\n";
        var delimiter = "JUMPGATE_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        // conda env update reads a file by its extension: .yml whatever the local file was called.
        var file = pipOnly ? "requirements.txt" : "environment.yml";
        var words = string.Join(' ', command.Select(w => w == SpecWord ? $"\"$tmp\"/{file}" : HostProbe.Quote(w)));
        var script = new StringBuilder();
        script.AppendLine("tmp=$(mktemp -d) || exit 1");
        script.AppendLine("trap 'rm -rf \"$tmp\"' EXIT");
        script.AppendLine($"cat > \"$tmp\"/{file} <<'{delimiter}'");
        script.Append(content);
        script.AppendLine(delimiter);
        script.AppendLine($"echo '+ '{HostProbe.Quote(string.Join(' ', command.Select(w => w == SpecWord ? file : w)))}");
        script.AppendLine($"{words} 2>&1");
        return script.ToString();
    }

    private async Task SyncAsync(HostInventory host, IReadOnlyList<string> command, EnvironmentSpec spec, ProgressBoard board, CancellationToken cancellationToken)
    {
        var log = Path.Combine(LogFolder, string.Concat(host.Host.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_')) + ".log");
        board.Step(host.Host, host.UsesConda ? $"{host.Manager} {string.Join(' ', command.Skip(1).TakeWhile(w => !w.StartsWith('-')))}" : "pip install");
        await using var writer = new StreamWriter(log, append: false) { AutoFlush = true };
        var gate = new Lock();
        void Write(string line, bool isError)
        {
            lock (gate)
            {
                writer.WriteLine(line);
            }
        }
        var result = await hosts.Ssh.ExecAsync(host.Host, "sh -s", Script(command, spec, pipOnly: !host.UsesConda), SyncTimeout, Write, cancellationToken);
        board.Done(host.Host, result switch
        {
            { TimedOut: true } => $"stopped after {SyncTimeout.TotalMinutes:0} min, see {log}",
            { ExitCode: 0 } => $"updated, log in {log}",
            { ExitCode: 255 } => $"ssh failed: {Ssh.Describe(result.Stderr, host.Host)}",
            _ => $"failed (exit {result.ExitCode}), see {log}",
        });
    }
}
