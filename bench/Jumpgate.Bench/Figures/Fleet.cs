using System.Diagnostics;
using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// The fleet figure: `jumpgate fleet apply` and `jumpgate fleet exec … true` on N hosts against the
/// same work done by a shell loop of plain ssh (a connection per command, one host after the other).
/// Each host is a throw-away sshd on a loopback address of its own, with an nvidia-smi that replays a
/// real capture, and a HOME of its own (sshd's SetEnv), so the fleet key lands there and not in the
/// home of the user running the benchmark.
/// </summary>
internal static class Fleet
{
    private const string Figure = "fleet";

    /// <summary>What apply does on each host, as three plain ssh commands: host facts, GPUs, the fleet key.</summary>
    private const string LoopApply = """
        for h in "$@"; do
          ssh -F "$CONFIG" "$h" 'sh -s' >/dev/null <<'EOF'
        uname -r; nproc; sed -n 1p /proc/meminfo; df -Pk /; command -v python3 >/dev/null && python3 --version; hostname -I
        EOF
          ssh -F "$CONFIG" "$h" 'nvidia-smi -q -x' >/dev/null
          ssh -F "$CONFIG" "$h" 'sh -s' >/dev/null <<'EOF'
        mkdir -p "$HOME/.ssh" && touch "$HOME/.ssh/authorized_keys" && { grep -c jumpgate-fleet "$HOME/.ssh/authorized_keys" || true; }
        EOF
        done
        """;

    private const string LoopExec = """
        for h in "$@"; do ssh -F "$CONFIG" "$h" true; done
        """;

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        foreach (var count in plan.FleetHosts)
        {
            await using var lab = await Lab.StartAsync(count);
            say($"fleet: {count} hosts on 127.0.0.10…; checking both ways reach them");
            // Untimed first rounds: host keys recorded, every path proven to work.
            await lab.ApplyAsync(cold: true);
            await lab.LoopAsync(LoopApply);
            await lab.ExecAsync();
            await lab.LoopAsync(LoopExec);

            var times = new Dictionary<string, List<double>>();
            void Add(string name, double ms) => (times.TryGetValue(name, out var list) ? list : times[name] = []).Add(ms);
            for (var round = 0; round < plan.FleetRounds; round++)
            {
                Add("apply", await lab.ApplyAsync(cold: true));
                Add("loop apply", await lab.LoopAsync(LoopApply));
                Add("exec", await lab.ExecAsync());
                Add("loop exec", await lab.LoopAsync(LoopExec));
                await lab.CloseMastersAsync();
                Add("exec cold", await lab.ExecAsync());
            }
            double M(string name) => Stats.Median(times[name]);
            string R(string name) => $"{Table.F(M(name))} ms (n = {times[name].Count})";
            say($"fleet on {count} hosts: {string.Join(", ", times.Select(t => $"{t.Key} {Table.F(Stats.Median(t.Value))} ms"))}");

            var apply = $"{Figure}: `fleet apply`, {count} hosts";
            table.Add(new Row(apply, "shell loop of plain ssh (3 commands a host)", R("loop apply")));
            table.Check(apply, R("apply"), M("apply") / M("loop apply"), "ssh loop", "≤ 1.0 ×", atMost: true, 1.0);
            var exec = $"{Figure}: `fleet exec true`, {count} hosts";
            table.Add(new Row(exec, "shell loop of plain `ssh host true`", R("loop exec")));
            table.Check(exec, R("exec"), M("exec") / M("loop exec"), "ssh loop", count >= 8 ? "≤ 0.5 ×" : "≤ 1.0 ×", atMost: true, count >= 8 ? 0.5 : 1.0);
            table.Add(new Row(exec, "Jumpgate, no master connection yet (reference only)", R("exec cold"), $"{Table.F(M("exec cold") / M("loop exec"))} × ssh loop"));
        }
        table.Note("fleet: each host a throw-away sshd on its own loopback address, nvidia-smi replaying a 2-GPU capture. " +
            "`fleet apply` is timed from cold (no master connection: every host's handshake is paid) and runs three commands a host, as the loop does; " +
            "`fleet exec` right after an apply reuses the hosts' master connections (ControlPersist), the cold row pays the handshakes. Rounds alternated; the target for exec is ≤ 0.5 × on 8 hosts.");
    }

    /// <summary>The hosts of one measurement, the fleet file naming them, and an ssh config for the loop.</summary>
    private sealed class Lab : IAsyncDisposable
    {
        private readonly TempDirectory _dir = new("jg-bench-fleet");
        private readonly List<Sshd> _hosts = [];
        private readonly List<string> _aliases = [];

        private Dictionary<string, string> Environment => new() { ["XDG_CONFIG_HOME"] = _dir.File("config"), ["XDG_RUNTIME_DIR"] = "" };

        private string FleetConfig => Path.Combine(_dir.File("config"), "jumpgate", "fleets", "bench", "ssh_config");

        public static async Task<Lab> StartAsync(int count)
        {
            var lab = new Lab();
            try
            {
                await lab.SetUpAsync(count);
            }
            catch
            {
                await lab.DisposeAsync();
                throw;
            }
            return lab;
        }

        private async Task SetUpAsync(int count)
        {
            var bin = Directory.CreateDirectory(_dir.File("bin")).FullName;
            var script = Path.Combine(bin, "nvidia-smi");
            await File.WriteAllTextAsync(script, $"#!/bin/sh\ncat '{Capture()}'\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            _hosts.AddRange(await Task.WhenAll(Enumerable.Range(0, count).Select(i =>
            {
                var home = Directory.CreateDirectory(_dir.File($"home{i}")).FullName;
                return Sshd.StartAsync(null, address: $"127.0.0.{10 + i}", extraConfig: $"SetEnv HOME={home} PATH={bin}:/usr/local/bin:/usr/bin:/bin");
            })));
            var user = System.Environment.UserName;
            await File.WriteAllTextAsync(_dir.File("fleet.yml"), $"""
                type: fleet
                name: bench
                placement: cluster
                ssh_config:
                  user: {user}
                  hosts:
                {string.Join('\n', _hosts.Select(h => $"    - {{ hostname: {h.Address}, port: {h.Port}, identity_file: {h.ClientKey} }}"))}
                """);
            var loop = new System.Text.StringBuilder();
            for (var i = 0; i < _hosts.Count; i++)
            {
                _aliases.Add($"host{i}");
                loop.Append($"Host host{i}\n    HostName {_hosts[i].Address}\n    Port {_hosts[i].Port}\n    User {user}\n    IdentityFile {_hosts[i].ClientKey}\n    IdentitiesOnly yes\n");
            }
            loop.Append($"Host *\n    BatchMode yes\n    ControlMaster no\n    ControlPath none\n    StrictHostKeyChecking accept-new\n    UserKnownHostsFile {_dir.File("loop_known_hosts")}\n    GlobalKnownHostsFile /dev/null\n    LogLevel ERROR\n");
            await File.WriteAllTextAsync(_dir.File("loop_ssh_config"), loop.ToString());
        }

        /// <summary>The 2-GPU capture the end-to-end tests replay, found from the benchmark's build folder upwards.</summary>
        private static string Capture()
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                var path = Path.Combine(folder.FullName, "tests", "Fixtures", "nvidia-smi", "2x-rtx2080ti-q-x.xml");
                if (File.Exists(path))
                {
                    return path;
                }
            }
            throw new InvalidOperationException($"tests/Fixtures/nvidia-smi not found above {AppContext.BaseDirectory}");
        }

        public async Task<double> ApplyAsync(bool cold)
        {
            if (cold)
            {
                await CloseMastersAsync();
            }
            var result = await TimedAsync(Jumpgate.TestSupport.Jumpgate.Executable, ["fleet", "apply", _dir.File("fleet.yml")], Environment);
            if (result.Result.ExitCode != 0 || !result.Result.Stdout.Contains($"{_hosts.Count} of {_hosts.Count} hosts reachable", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"jumpgate fleet apply did not reach every host: {result.Result}");
            }
            return result.Milliseconds;
        }

        public async Task<double> ExecAsync()
        {
            var result = await TimedAsync(Jumpgate.TestSupport.Jumpgate.Executable, ["fleet", "exec", "bench", "--", "true"], Environment);
            if (result.Result.ExitCode != 0 || !result.Result.Stderr.Contains($"{_hosts.Count} of {_hosts.Count} hosts succeeded", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"jumpgate fleet exec failed: {result.Result}");
            }
            return result.Milliseconds;
        }

        public async Task<double> LoopAsync(string script)
        {
            var result = await TimedAsync("bash", ["-ec", script, "loop", .. _aliases], new Dictionary<string, string> { ["CONFIG"] = _dir.File("loop_ssh_config") });
            if (result.Result.ExitCode != 0)
            {
                throw new InvalidOperationException($"the ssh loop failed: {result.Result}");
            }
            return result.Milliseconds;
        }

        public async Task CloseMastersAsync()
        {
            if (File.Exists(FleetConfig))
            {
                await Task.WhenAll(_hosts.Select(h => Command.RunAsync("ssh", ["-F", FleetConfig, "-O", "exit", h.Address], Signals.Timeout(10))));
            }
        }

        private static async Task<(CommandResult Result, double Milliseconds)> TimedAsync(string program, string[] arguments, IReadOnlyDictionary<string, string> environment)
        {
            var clock = Stopwatch.StartNew();
            var result = await Command.RunAsync(program, arguments, Signals.Timeout(120), environment);
            return (result, clock.Elapsed.TotalMilliseconds);
        }

        public async ValueTask DisposeAsync()
        {
            await CloseMastersAsync();
            foreach (var host in _hosts)
            {
                await host.DisposeAsync();
            }
            _dir.Dispose();
        }
    }
}
