namespace Jumpgate.Cli.Environments;

/// <summary>Reads every host at once, one ssh connection each, and compares what they have with the spec.</summary>
internal sealed class EnvCheck(EnvHosts hosts, TimeSpan timeout)
{
    public async Task<IReadOnlyList<HostInventory>> ReadAsync(EnvironmentSpec spec, string? python, CancellationToken cancellationToken)
    {
        var target = Target(spec, python);
        return await Task.WhenAll(hosts.Names.Select(host => ReadAsync(host, target, cancellationToken)));
    }

    public static HostProbe.Target Target(EnvironmentSpec spec, string? python)
    {
        if (python is null && spec.Name is null)
        {
            throw new Client.CliException($"{spec.Path} has no name: a conda environment is found by name; for a venv or a system Python, give --python PATH");
        }
        if (python is not null && !spec.PipOnly)
        {
            throw new Client.CliException($"--python checks pip packages, but {spec.Path} also asks for conda packages ({string.Join(", ", spec.Conda.Where(c => c.Name is not ("python" or "pip")).Take(3).Select(c => c.Text))}…)");
        }
        return new HostProbe.Target(spec.Name, python, spec.PipOnly);
    }

    private async Task<HostInventory> ReadAsync(string host, HostProbe.Target target, CancellationToken cancellationToken)
    {
        var result = await hosts.Ssh.ExecAsync(host, "sh -s", HostProbe.Script(target), timeout, onLine: null, cancellationToken);
        if (result.TimedOut)
        {
            return HostProbe.Failed(host, $"no answer within {timeout.TotalSeconds:0}s");
        }
        if (result.ExitCode == 255)
        {
            return HostProbe.Failed(host, Fleet.Ssh.Describe(result.Stderr, host));
        }
        return HostProbe.Parse(host, result.Stdout);
    }
}
