using System.CommandLine;
using Jumpgate.Cli.Commands;

namespace Jumpgate.Cli.Import;

/// <summary><c>jumpgate import …</c>: an agent.yaml or a gateway init line from the frp or OpenSSH files a lab already has.</summary>
internal static class ImportCommands
{
    public static Command Create() => new("import", "Move over from frp or an OpenSSH bastion: turn their config files into an agent.yaml or a `gateway init` line")
    {
        Frpc(),
        Frps(),
        SshConfig(),
    };

    /// <summary>The options every agent.yaml needs: where the gateway is, its fingerprint, the agent's token file, and where to write.</summary>
    private sealed class AgentOptions
    {
        public Option<string> Gateway { get; } = new("--gateway") { Description = "The gateway's address, e.g. https://gw.example.org", Required = true };

        public Option<string> Fingerprint { get; } = new("--fingerprint") { Description = "The gateway's certificate fingerprint (SHA256:…, from `jumpgate gateway fingerprint`)", Required = true };

        public Option<string> TokenFile { get; } = new("--token-file") { Description = "The agent's token file as the agent's machine names it (from `jumpgate gateway add-agent NAME -o FILE`)", Required = true };

        public Option<string?> Output { get; } = new("--output", "-o") { Description = "Write the agent.yaml to this file (created mode 0600, never over an existing one) instead of stdout" };

        public void AddTo(Command command)
        {
            command.Options.Add(Gateway);
            command.Options.Add(Fingerprint);
            command.Options.Add(TokenFile);
            command.Options.Add(Output);
        }

        /// <summary>The agent.yaml text, after checking the gateway and fingerprint as `agent run` will.</summary>
        public string Yaml(ParseResult result, ImportedAgent agent, string source)
        {
            var gateway = result.GetValue(Gateway)!;
            var fingerprint = result.GetValue(Fingerprint)!;
            ClientCommands.ParseGateways([gateway], fingerprint);
            return agent.ToYaml(source, gateway, fingerprint, result.GetValue(TokenFile)!);
        }
    }

    private static Command Frpc()
    {
        var file = new Argument<string>("file") { Description = "frpc.toml, or the older frpc.ini" };
        var host = new Option<string?>("--host") { Description = "The host that proxies on 127.0.0.1 belong to; default: this machine's name" };
        var options = new AgentOptions();
        var command = new Command("frpc", Options.Describe(
            "Write an agent.yaml that serves what frpc exposes: proxies on 127.0.0.1 become services of --host, other localIPs hosts of their own; tcp proxies are services by port, http proxies HTTP services keeping their subdomain. What has no counterpart (stcp, xtcp, udp, plugins, bandwidth limits…) is listed on stderr with why.",
            "jumpgate import frpc /etc/frp/frpc.toml --gateway https://gw.example.org --fingerprint SHA256:… --token-file /etc/jumpgate/agent.token -o agent.yaml"))
        {
            file,
            host,
        };
        options.AddTo(command);
        command.SetAction(result =>
        {
            var path = result.GetValue(file)!;
            var localHost = result.GetValue(host) ?? ImportedAgent.Label(Environment.MachineName, "localhost");
            if (!Core.Naming.Names.IsValid(localHost))
            {
                throw new Client.CliException($"--host {localHost}: a host name is {Core.Naming.Names.Rule}");
            }
            var agent = FrpcImport.Import(FrpFile.Load(path), localHost);
            var yaml = options.Yaml(result, agent, path);
            agent.PrintNotes();
            ImportedAgent.Write(yaml, result.GetValue(options.Output));
            return 0;
        });
        return command;
    }

    private static Command Frps()
    {
        var file = new Argument<string>("file") { Description = "frps.toml, or the older frps.ini" };
        var dir = new Option<string>("--dir") { Description = "The gateway directory the printed line creates", DefaultValueFactory = _ => "./gw" };
        var command = new Command("frps", Options.Describe(
            "Print the `jumpgate gateway init` line that stands in for this frps: its domain from subDomainHost, its one HTTPS port from vhostHTTPSPort (else bindPort); what has no counterpart is listed on stderr.",
            "jumpgate import frps /etc/frp/frps.toml"))
        {
            file,
            dir,
        };
        command.SetAction(result =>
        {
            var (line, notes) = FrpsImport.Import(FrpFile.Load(result.GetValue(file)!), result.GetValue(dir)!);
            foreach (var note in notes)
            {
                Console.Error.WriteLine($"note: {note}");
            }
            Console.WriteLine(line);
            return 0;
        });
        return command;
    }

    private static Command SshConfig()
    {
        var file = new Argument<string>("file") { Description = "The OpenSSH client config, e.g. ~/.ssh/config" };
        var bastion = new Option<string?>("--bastion") { Description = "The bastion whose hosts to import, when the file jumps through several" };
        var options = new AgentOptions();
        var command = new Command("ssh-config", Options.Describe(
            "Write an agent.yaml for an agent on the ProxyJump bastion, serving the hosts reached through it (HostName and Port kept, as `ssh: PORT`), and print the ~/.ssh/config lines that replace their old blocks: on stderr when the agent.yaml goes to stdout, else on stdout.",
            "jumpgate import ssh-config ~/.ssh/config --gateway https://gw.example.org --fingerprint SHA256:… --token-file /etc/jumpgate/agent.token -o agent.yaml"))
        {
            file,
            bastion,
        };
        options.AddTo(command);
        command.SetAction(result =>
        {
            var path = result.GetValue(file)!;
            var imported = SshConfigImport.Import(path, result.GetValue(bastion), ClientCommands.SelfCommand());
            var yaml = options.Yaml(result, imported.Agent, path);
            imported.Agent.PrintNotes();
            var output = result.GetValue(options.Output);
            ImportedAgent.Write(yaml, output);
            var lines = $"# Run the agent on {imported.Bastion}. In ~/.ssh/config, replace the old blocks of these hosts with:\n{imported.SshLines}";
            (output is null ? Console.Error : Console.Out).Write(lines);
            return 0;
        });
        return command;
    }
}
