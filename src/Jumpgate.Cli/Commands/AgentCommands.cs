using System.CommandLine;
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
            SocketCompletions.RunInline();
            using var factory = LoggingSetup.CreateFactory(result.GetValue(verbose));
            await AgentRunner.RunAsync(result.GetValue(config)!, factory.CreateLogger("Jumpgate.Agent"), cancellationToken);
            return 0;
        });
        return new Command("agent", "Run an agent inside a private network") { run, Doctor() };
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
        command.SetAction(async (result, cancellationToken) =>
            DoctorReport.Print(await new AgentDoctor(result.GetValue(config)!).RunAsync(cancellationToken), result.GetValue(json)));
        return command;
    }
}
