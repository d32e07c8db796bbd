using System.CommandLine;
using System.Text.Json;
using Jumpgate.Cli.Admin;
using Jumpgate.Core.Api;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway expose|exposed|unexpose</c>: a host's service on a public TCP port, for people without the CLI.</summary>
internal static class GatewayExposeCommands
{
    public static Command Expose()
    {
        var target = new Argument<string>("target") { Description = "HOST:SERVICE to relay to, e.g. node1:ssh" };
        var port = new Option<int>("--port") { Description = "The TCP port every gateway of the store listens on (on the address of its --listen)", Required = true };
        var allow = new Option<string[]>("--allow")
        {
            Description = "A source range that may connect, as CIDR (repeatable, at least one); a port open to everyone must be given as --allow 0.0.0.0/0",
            Required = true,
        };
        var name = new Option<string?>("--name") { Description = "The exposure's name; the rules and the audit see its connections as the user expose:NAME (default: HOST-SERVICE)" };
        var command = new Command("expose", AdminTarget.Describe(
            "Relay a public TCP port to a host's service, for people who cannot install the CLI: no TLS and no token, so the service's own authentication (sshd's) is all, and --allow is the gate. Running gateways open the port within a second. Its connections go through the rules as the user expose:NAME.",
            "jumpgate gateway expose node1:ssh --port 6022 --allow 203.0.113.0/24 --dir ./gw",
            "jumpgate gateway grant expose:node1-ssh node1 --service ssh --dir ./gw"))
        {
            target, port, allow, name,
        };
        var where = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = where.Open(result);
            var exposed = await admin.ExposeAsync(new ExposeRequest(result.GetValue(target)!, result.GetValue(port), result.GetValue(allow) ?? [], result.GetValue(name)), cancellationToken);
            Console.Error.WriteLine($"exposed {exposed.Host}:{exposed.Service} on port {exposed.Port} to {string.Join(", ", exposed.Allow)}; the rules see it as {exposed.User}");
            Console.Error.WriteLine($"unless a rule for @everyone covers it: jumpgate gateway grant {exposed.User} {exposed.Host} --service {exposed.Service}");
            return 0;
        });
        return command;
    }

    public static Command Exposed()
    {
        var json = Options.Json();
        var command = new Command("exposed", AdminTarget.Describe(
            "List the exposed ports; through --remote each says whether the gateway that answered listens on it, or why it cannot.",
            "jumpgate gateway exposed --dir ./gw"))
        {
            json,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var rows = await admin.ExposedAsync(cancellationToken);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize([.. rows], AdminJson.Default.ListExposureView));
                return 0;
            }
            if (rows.Count == 0)
            {
                Console.Error.WriteLine("nothing is exposed (`jumpgate gateway expose HOST:SERVICE --port P --allow CIDR` exposes a service)");
                return 0;
            }
            Console.WriteLine($"{"NAME",-24} {"PORT",-6} {"TARGET",-24} {"ALLOW",-24} STATE");
            foreach (var row in rows)
            {
                Console.WriteLine($"{row.Name,-24} {row.Port,-6} {row.Host + ":" + row.Service,-24} {string.Join(",", row.Allow),-24} {row.State ?? "(--remote shows it)"}");
            }
            return 0;
        });
        return command;
    }

    public static Command Unexpose()
    {
        var name = new Argument<string>("name") { Description = "The exposure's name, as `jumpgate gateway exposed` lists it" };
        var command = new Command("unexpose", AdminTarget.Describe(
            "Close an exposed port on every gateway of the store (within a second); streams already open run on while the rules allow them.",
            "jumpgate gateway unexpose node1-ssh --dir ./gw"))
        {
            name,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            await admin.UnexposeAsync(result.GetValue(name)!, cancellationToken);
            return 0;
        });
        return command;
    }
}
