using System.CommandLine;
using Jumpgate.Cli.Client;
using Jumpgate.Cli.Commands;
using Jumpgate.Cli.Install;
using Jumpgate.Core.Config;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Cli;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Before any socket: the relaying commands turn inline completions on for themselves, nothing inherits them.
        Jumpgate.Core.Streams.SocketCompletions.OnThreadPool();
        var root = new RootCommand("""
            Jumpgate: reach GPU machines in private networks with the tools you already use.

            Examples:
              jumpgate demo                          # a gateway, an agent and a demo service on this machine
              jumpgate login https://gw.example.org --token jgu_… --fingerprint SHA256:…
              jumpgate ssh-config >> ~/.ssh/config && ssh node1.jg
              jumpgate open node1 jupyter --browser  # Jupyter in the browser, behind the gateway's sign-in
            """)
        {
            GatewayCommands.Create(),
            AgentCommands.Create(),
            AdminCommands.Create(),
            ClientCommands.Login(),
            ClientCommands.List(),
            StatusCommands.Status(),
            ClientCommands.Open(),
            ClientCommands.SshConfig(),
            KnownHostsCommand.Create(),
            TunnelCommands.Proxy(),
            TunnelCommands.Forward(),
            FleetCommands.Create(),
            EnvCommands.Create(),
            JupyterCommand.Create(),
            DemoCommand.Create(),
            DoctorCommand.Create(),
            CompletionCommand.Create(),
            Import.ImportCommands.Create(),
        };
        BuildInfo.UseForVersionOption(root);
        var configuration = new InvocationConfiguration
        {
            // Ctrl-C cancels the command's token; the gateway and agent then drain open streams before exiting.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            // No @file response files: `jumpgate gateway grant @students …` names a group.
            return await root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null }).InvokeAsync(configuration);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"jumpgate: {FileErrors.Describe(e)}");
            return 1;
        }
        catch (Exception e) when (e is CliException or ConfigException or GatewayException or InvalidOperationException or FormatException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"jumpgate: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
    }
}
