using System.IO.Enumeration;

namespace Jumpgate.Cli.Fleet;

/// <summary>One command on many hosts at once: every output line prefixed with its host, then each host's outcome.</summary>
internal sealed class FleetExec(FleetStore store, TextWriter output, TextWriter errors)
{
    public sealed record Outcome(string Host, int? ExitCode, string? Failure)
    {
        public bool Succeeded => ExitCode == 0;
    }

    public async Task<IReadOnlyList<Outcome>> RunAsync(FleetState fleet, string command, string? hostPattern, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var hosts = fleet.Hosts.Where(h => hostPattern is null || FileSystemName.MatchesSimpleExpression(hostPattern, h.Name, ignoreCase: true)).ToList();
        if (hosts.Count == 0)
        {
            throw new Client.CliException($"no host of fleet {fleet.Name} matches {hostPattern} (hosts: {string.Join(", ", fleet.Hosts.Select(h => h.Name))})");
        }
        var ssh = new Ssh(store.SshConfig(fleet.Name), store.Folder(fleet.Name));
        var width = hosts.Max(h => h.Name.Length);
        var gate = new Lock();
        void Print(string host, string line, bool isError)
        {
            lock (gate)
            {
                (isError ? errors : output).WriteLine($"{host.PadRight(width)} | {line}");
            }
        }

        return await Task.WhenAll(hosts.Select(async host =>
        {
            // The master connection is opened within the same deadline as the command.
            var started = TimeProvider.System.GetTimestamp();
            var failure = await ssh.ConnectAsync(host.Name, timeout, cancellationToken);
            if (failure is not null)
            {
                return new Outcome(host.Name, null, $"unreachable: {failure}");
            }
            var left = timeout - TimeProvider.System.GetElapsedTime(started);
            var result = await ssh.ExecAsync(host.Name, command, stdin: null, left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), (line, isError) => Print(host.Name, line, isError), cancellationToken);
            return result switch
            {
                { TimedOut: true } => new Outcome(host.Name, null, $"timed out after {timeout.TotalSeconds:0.#}s"),
                { ExitCode: 255 } => new Outcome(host.Name, 255, "ssh failed (exit 255)"),
                _ => new Outcome(host.Name, result.ExitCode, null),
            };
        }));
    }
}
