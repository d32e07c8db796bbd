using System.CommandLine;
using Jumpgate.Cli.Client;
using Jumpgate.Agent.Hosting;
using Jumpgate.Cli.Logging;
using Jumpgate.Cli.Onboarding;
using Jumpgate.Core.Streams;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate agent run</c>: dial out from a private network and serve its hosts.</summary>
internal static class AgentCommands
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "The agent's configuration file", DefaultValueFactory = _ => "agent.yaml" };
        var verbose = Options.Verbose();
        var run = new Command("run", Options.Describe(
            "Connect to the gateway and serve the hosts in agent.yaml until Ctrl-C, reconnecting by itself whenever the gateway goes away.",
            "jumpgate agent run --config agent.yaml"))
        {
            config, verbose,
        };
        run.SetAction(async (result, cancellationToken) =>
        {
            SocketCompletions.RunInlineOnFewerThreads();
            using var factory = LoggingSetup.CreateFactory(result.GetValue(verbose));
            await AgentRunner.RunAsync(result.GetValue(config)!, factory.CreateLogger("Jumpgate.Agent"), cancellationToken);
            return 0;
        });
        return new Command("agent", "Run an agent inside a private network") { run, Doctor(), Install() };
    }

    private static Command Install()
    {
        var config = new Option<string>("--config", "-c") { Description = "The agent's configuration file", DefaultValueFactory = _ => "agent.yaml" };
        var print = new Option<bool>("--print") { Description = "Print the unit and the commands instead of running them, even as root with systemd" };
        var command = new Command("install", Options.Describe(
            $"Make the agent a systemd service ({AgentInstall.UnitName}, Restart=always): its token goes to {AgentInstall.TokenPath} (root's, 0600), which systemd hands the service alone; agent.yaml goes to {AgentInstall.ConfigPath}. As root with systemd running it does this and enables the unit; otherwise it prints the unit and the commands.",
            "sudo jumpgate agent install --config agent.yaml",
            "jumpgate agent install --config agent.yaml --print > install.sh"))
        {
            config, print,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var path = result.GetValue(config)!;
            // Parsed first: a config the agent would refuse is not installed.
            _ = Agent.Configuration.AgentOptions.Load(path);
            var text = await File.ReadAllTextAsync(path, cancellationToken);
            var tokenFile = TokenFileOf(path, text);
            if (result.GetValue(print) || !AgentInstall.CanInstall)
            {
                Console.Error.WriteLine(result.GetValue(print)
                    ? "the commands that install the agent as a systemd service:"
                    : $"not {(Environment.IsPrivilegedProcess ? "on a machine running systemd" : "root")}, so here are the commands that install the agent as a systemd service (run them where systemd runs):");
                Console.Write(AgentInstall.Script(tokenFile, text));
                return 0;
            }
            await AgentInstall.InstallAsync(tokenFile, text, cancellationToken);
            Console.Error.WriteLine($"installed and started {AgentInstall.UnitName}; `systemctl status {AgentInstall.UnitName}` and `journalctl -u {AgentInstall.UnitName}` show it");
            return 0;
        });
        return command;
    }

    /// <summary>The token file agent.yaml names, resolved as the agent resolves it (relative to the file).</summary>
    private static string TokenFileOf(string configPath, string text)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("token_file:", StringComparison.Ordinal))
            ?? throw new CliException($"{configPath} has no top-level `token_file:` line, which the install reads to hand the token to systemd; write it as `token_file: PATH` at the start of a line");
        var value = line["token_file:".Length..].Split('#')[0].Trim().Trim('"', '\'');
        return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath))!, value));
    }

    private static Command Doctor()
    {
        var config = new Option<string>("--config", "-c") { Description = "The agent's configuration file", DefaultValueFactory = _ => "agent.yaml" };
        var json = Options.Json();
        var command = new Command("doctor", Options.Describe(
            "Check an agent's machine, one line a check: agent.yaml parses (its token file private), each gateway answers (DNS, TCP, TLS and the pinned fingerprint, clock skew), and each service answers at its address from this machine. Each failure says what to fix; exits 1 when one fails.",
            "jumpgate agent doctor --config agent.yaml"))
        {
            config, json,
        };
        command.SetAction((result, cancellationToken) =>
            DoctorReport.RunAsync(checks => new AgentDoctor(result.GetValue(config)!).RunAsync(checks, cancellationToken), result.GetValue(json)));
        return command;
    }
}
