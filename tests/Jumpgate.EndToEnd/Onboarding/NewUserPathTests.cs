using System.Diagnostics;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Onboarding;

/// <summary>
/// A new user's path from nothing to `ssh node1.jg`, typed as `gateway init` prints it: the test
/// runs init's next-step lines through bash as they stand, in a folder of their own, with the
/// values init and add-agent filled in, and a home of its own so the real ~/.ssh is never touched.
/// </summary>
public sealed class NewUserPathTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheNextStepsInitPrintsTakeANewUserFromNothingToSshNode1AsPrinted()
    {
        using var work = new TempDirectory("jg-newuser");
        var home = work.File("home");
        // The one thing the user brings: an ssh key that node1's sshd already accepts.
        await using var sshd = await Sshd.StartAsync(output);
        Directory.CreateDirectory(Path.Combine(home, ".ssh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.Copy(sshd.ClientKey, Path.Combine(home, ".ssh", "id_ed25519"));
        var shell = new UserShell(work.Path, home, output);
        await using var _ = shell;
        var clock = Stopwatch.StartNew();

        // The admin is the first user: init adds them and ends with their login line.
        var init = await shell.TypeAsync($"jumpgate gateway init --dir gw --listen 127.0.0.1:{Sshd.FreePort()} --user alice");
        Assert.Equal(0, init.ExitCode);
        var steps = init.Stderr.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("jumpgate ", StringComparison.Ordinal) || l.StartsWith("ssh ", StringComparison.Ordinal)).ToList();
        output.WriteLine($"init printed {steps.Count} commands:\n{string.Join('\n', steps)}");
        Assert.Equal(5, steps.Count);

        var gateway = shell.StartInBackground(Single(steps, "jumpgate gateway run "));
        await gateway.WaitForLineAsync("listening on https://", Signals.Timeout(60));

        var added = await shell.TypeAsync(Single(steps, "jumpgate gateway add-agent "));
        Assert.Equal(0, added.ExitCode);
        // The edit step 2 asks for: node1's sshd listens on the port the test's sshd got, not 22.
        var agentYaml = Path.Combine(work.Path, "agent.yaml");
        var printed = await File.ReadAllTextAsync(agentYaml);
        Assert.Contains("  node1:\n    address: 127.0.0.1\n    services:\n      ssh: 22\n", printed, StringComparison.Ordinal);
        await File.WriteAllTextAsync(agentYaml, printed.Replace("      ssh: 22\n", $"      ssh: {sshd.Port}\n", StringComparison.Ordinal));

        var agent = shell.StartInBackground(Single(steps, "jumpgate agent run "));
        await agent.WaitForLineAsync("connected to https://", Signals.Timeout(60));

        var login = Single(steps, "jumpgate login ");
        Assert.EndsWith(" --ssh-config", login, StringComparison.Ordinal);
        Assert.Equal(0, (await shell.TypeAsync(login)).ExitCode);
        // `ssh node1.jg` asks once whether to trust node1's new host key; accept-new is the "yes" a person types.
        var ssh = Single(steps, "ssh ");
        Assert.Equal("ssh node1.jg", ssh);
        var reached = await shell.TypeAsync("ssh -o StrictHostKeyChecking=accept-new -o BatchMode=yes node1.jg true");
        clock.Stop();

        Assert.Equal(0, reached.ExitCode);
        output.WriteLine($"the new user's path: {shell.Typed} commands typed, one edit of agent.yaml, {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(shell.Typed <= 6, $"{shell.Typed} commands typed; the path's goal is at most 6");
    }

    private static string Single(IReadOnlyList<string> steps, string prefix) =>
        Assert.Single(steps, s => s.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>
    /// A user's shell: bash in a folder of their own, `jumpgate` on PATH, and HOME a temporary folder
    /// that a private mount namespace also puts over the password database's home, where ssh looks
    /// for ~/.ssh (it ignores $HOME).
    /// </summary>
    private sealed class UserShell(string folder, string home, ITestOutputHelper output) : IAsyncDisposable
    {
        private readonly List<ChildProcess> _background = [];

        public int Typed { get; private set; }

        private IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
        {
            ["PATH"] = $"{Path.GetDirectoryName(TestSupport.Jumpgate.Executable)}:{System.Environment.GetEnvironmentVariable("PATH")}",
            ["HOME"] = home,
            ["XDG_CONFIG_HOME"] = Path.Combine(home, ".config"),
        };

        private IReadOnlyList<string> Wrap(string line) =>
        [
            "--mount", "--propagation", "private", "sh", "-c",
            "mount --bind \"$1\" \"$(getent passwd \"$(id -u)\" | cut -d: -f6)\" && cd \"$2\" && exec bash -c \"$3\"", "sh", home, folder, line,
        ];

        public Task<CommandResult> TypeAsync(string line)
        {
            Typed++;
            return Command.RunAsync("unshare", Wrap(line), Signals.Timeout(60), Environment, output: output);
        }

        /// <summary>A long-running command (the gateway, the agent), as a person leaves it running in another terminal.</summary>
        public ChildProcess StartInBackground(string line)
        {
            Typed++;
            // bash runs a lone command in its own process, so the process the test stops is that command.
            var child = ChildProcess.Start(line.Split(' ')[1], "unshare", Wrap(line), output, Environment, folder);
            _background.Add(child);
            return child;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var child in Enumerable.Reverse(_background))
            {
                await child.DisposeAsync();
            }
        }
    }
}
