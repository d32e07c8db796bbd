using System.CommandLine;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Jumpgate.Cli.Admin;
using Jumpgate.Cli.Client;
using Jumpgate.Cli.Logging;
using Jumpgate.Cli.Onboarding;
using Jumpgate.Core.Api;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Hosting;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway …</c>: set up and run the public gateway, and manage its agents and users.</summary>
internal static class GatewayCommands
{
    public static Command Create() => new("gateway", "Run the gateway and manage its agents and users")
    {
        Init(),
        Fingerprint(),
        AddAgent(),
        AddUser(),
        AddAdmin(),
        ListPrincipals("agents", PrincipalKind.Agent),
        ListPrincipals("users", PrincipalKind.User),
        ListPrincipals("admins", PrincipalKind.Admin),
        GatewayAccessCommands.Group(),
        GatewayTokenCommands.Disable(disable: true),
        GatewayTokenCommands.Disable(disable: false),
        GatewayTokenCommands.List(),
        GatewayTokenCommands.Add(),
        GatewayTokenCommands.Revoke(),
        GatewayAccessCommands.Grant(),
        GatewayAccessCommands.Revoke(),
        GatewayAccessCommands.Rules(),
        GatewayAuditCommand.Create(),
        GatewayExposeCommands.Expose(),
        GatewayExposeCommands.Exposed(),
        GatewayExposeCommands.Unexpose(),
        GatewayHostKeyCommands.Create(),
        Run(),
    };

    private static Command Init()
    {
        var dir = Options.Dir();
        var listen = new Option<string>("--listen") { Description = "Address and port of the one HTTPS port", DefaultValueFactory = _ => "127.0.0.1:7443" };
        var domain = new Option<string>("--domain") { Description = "The gateway's DNS name; HTTP services get its subdomains", DefaultValueFactory = _ => "localhost" };
        var cert = new Option<string?>("--cert") { Description = "A PEM certificate (e.g. a wildcard one) instead of a self-signed one" };
        var key = new Option<string?>("--key") { Description = "The PEM key of --cert" };
        var store = new Option<string?>("--store")
        {
            Description = "A PostgreSQL database that several gateways share, postgres://user@host:port/db (the password through PGPASSWORD keeps it off the command line); default: a SQLite file, gateway.db",
        };
        var certificateFrom = new Option<string?>("--certificate-from")
        {
            Description = "Another gateway's directory whose certificate and key this one uses: gateways that share a --store share one certificate, so agents and users pin one fingerprint",
        };
        var user = new Option<string?>("--user") { Description = "Also add this first user (usually you), as `gateway add-user` does, and print their `jumpgate login` line" };
        var userToken = new Option<string?>("--output", "-o")
        {
            Description = "With --user: the file for the user's token, created readable by you only (mode 0600); default NAME.token here; an existing file is refused",
        };
        var acme = new AcmeInitOptions();
        var command = new Command("init", Options.Describe(
            "Create a gateway directory: gateway.yaml, a self-signed ECDSA P-256 certificate and an empty store. Prints the certificate's fingerprint, which agents and users pin. With --acme, the certificate comes from an ACME CA (Let's Encrypt) when the gateway runs, and clients trust it through the CA.",
            "jumpgate gateway init --dir ./gw --listen 127.0.0.1:7443 --domain localhost",
            "jumpgate gateway init --dir ./gw --listen 0.0.0.0:443 --domain gw.example.org --user alice -o alice.token",
            "jumpgate gateway init --dir ./gw --listen 0.0.0.0:443 --domain gw.example.org --acme admin@example.org",
            "jumpgate gateway init --dir ./gw2 --listen 10.0.0.2:443 --domain gw.example.org --store postgres://jumpgate@db/jumpgate --certificate-from ./gw1"))
        {
            dir, listen, domain, cert, key, store, certificateFrom, user, userToken,
        };
        acme.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!GatewayOptions.TryParseEndpoint(result.GetValue(listen)!, out var endpoint))
            {
                throw new CliException($"--listen '{result.GetValue(listen)}' is not an address and port such as 127.0.0.1:7443");
            }
            var (certificatePath, keyPath) = (result.GetValue(cert), result.GetValue(key));
            if (result.GetValue(certificateFrom) is { } other)
            {
                if (certificatePath is not null || keyPath is not null)
                {
                    throw new CliException("give --certificate-from or --cert and --key, not both");
                }
                var from = GatewayOptions.Load(other);
                (certificatePath, keyPath) = (from.CertificatePath, from.KeyPath);
            }
            var acmeInit = acme.Read(result);
            if (acmeInit is not null && result.GetValue(certificateFrom) is not null)
            {
                throw new CliException("give --acme or --certificate-from, not both: with ACME each gateway gets its certificate from the CA");
            }
            var firstUser = FirstUser(result.GetValue(user), result.GetValue(userToken));
            var fingerprint = GatewayInit.Run(result.GetValue(dir)!, endpoint, result.GetValue(domain)!, certificatePath, keyPath, result.GetValue(store), acmeInit);
            Console.Error.WriteLine($"gateway created in {Path.GetFullPath(result.GetValue(dir)!)}");
            Console.Error.WriteLine("every user may reach every host (the rule @everyone '*'); `jumpgate gateway revoke @everyone '*'` makes access deny-by-default");
            if (firstUser is { } added)
            {
                using var admin = new LocalAdmin(result.GetValue(dir)!);
                await TokenOutput.WriteFileAsync(added.TokenFile, force: false, async () =>
                    (await admin.AddAsync(PrincipalKind.User, new AddPrincipalRequest(added.Name), cancellationToken)).Token);
                Console.Error.WriteLine($"user {added.Name} added");
            }
            Console.Error.Write(NextSteps.AfterInit(result.GetValue(dir)!, GatewayAddress.Of(GatewayOptions.Load(result.GetValue(dir)!)), fingerprint?.ToString(), firstUser));
            if (fingerprint is null)
            {
                Console.Error.WriteLine("the certificate comes from the CA when the gateway first runs; clients trust it through the CA, with no fingerprint to pin (docs/certificates.md)");
                return 0;
            }
            Console.Error.WriteLine("certificate fingerprint (agents and users pin it):");
            Console.WriteLine(fingerprint);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The user `init --user` adds and their token file, checked before the gateway directory is
    /// made, so that a bad name or an existing file leaves nothing half done.
    /// </summary>
    private static (string Name, string TokenFile)? FirstUser(string? name, string? tokenFile)
    {
        if (name is null)
        {
            return tokenFile is null ? null : throw new CliException("-o names the file for the first user's token: give --user NAME with it");
        }
        if (!Names.IsValid(name))
        {
            throw new CliException($"--user '{name}' is not a valid user name: use {Names.Rule}");
        }
        tokenFile ??= name + ".token";
        return File.Exists(tokenFile)
            ? throw new CliException($"{tokenFile} already exists; give another file with -o, or remove it")
            : (name, tokenFile);
    }

    private static Command Fingerprint()
    {
        var dir = Options.Dir();
        var command = new Command("fingerprint", Options.Describe(
            "Print the SHA-256 fingerprint of the gateway's certificate, and nothing else.",
            "jumpgate gateway fingerprint --dir ./gw"))
        {
            dir,
        };
        command.SetAction(result =>
        {
            var options = GatewayOptions.Load(result.GetValue(dir)!);
            if (options.Acme is not null)
            {
                throw new CliException("this gateway's certificate comes from ACME and changes at every renewal: clients trust its CA, with no fingerprint to pin (docs/certificates.md)");
            }
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(options.CertificatePath));
            Console.WriteLine(Core.Security.Fingerprint.Of(certificate));
            return 0;
        });
        return command;
    }

    private static Command AddAgent()
    {
        var name = new Argument<string>("name") { Description = "The agent's name, e.g. lab-a" };
        var hosts = new Option<string>("--hosts") { Description = "Host patterns the agent may serve, e.g. 'node*,lab-pc'", Required = true };
        var printConfig = new Option<bool>("--print-config") { Description = "With -o: print a complete agent.yaml for the agent (gateway, fingerprint, the token file, a host per pattern with an ssh service to edit)" };
        var gateway = new Option<string[]>("--gateway") { Description = "With --print-config: the gateway address(es) the agent dials (repeatable); default: the one gateway.yaml's domain and port give, or the gateways `admin login` saved" };
        var command = new Command("add-agent", AdminTarget.Describe(
            "Add an agent and print its token (only the token, once; it is stored hashed), or write it to a 0600 file with -o. The agent may serve only hosts that match --hosts.",
            "jumpgate gateway add-agent lab-a --hosts 'node*,lab-pc' --dir ./gw -o lab-a.token",
            "jumpgate gateway add-agent lab-a --hosts 'node*' --dir ./gw -o lab-a.token --print-config > agent.yaml"))
        {
            name, hosts, printConfig, gateway,
        };
        var target = AdminTarget.AddTo(command);
        var output = TokenOutput.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            // Worked out before the token is issued, so a config that cannot be written issues nothing.
            var config = result.GetValue(printConfig)
                ? AgentConfigTemplate.Write(result.GetValue(name)!, result.GetValue(gateway) is { Length: > 0 } given ? given : target.GatewayAddresses(result),
                    target.Fingerprint(result), Path.GetFullPath(output.File(result) ?? throw new CliException("--print-config needs -o TOKENFILE: the config names the file that holds the token")),
                    result.GetValue(hosts)!)
                : null;
            using var admin = target.Open(result);
            await output.WriteAsync(result, async () =>
                (await admin.AddAsync(PrincipalKind.Agent, new AddPrincipalRequest(result.GetValue(name)!, Hosts: result.GetValue(hosts)), cancellationToken)).Token);
            if (config is not null)
            {
                Console.Write(config);
            }
            return 0;
        });
        return command;
    }

    private static Command AddUser()
    {
        var name = new Argument<string>("name") { Description = "The user's name, e.g. researcher" };
        var groups = new Option<string[]>("--group") { Description = "A group the user is in (repeatable); rules granted to @group apply to them" };
        var command = new Command("add-user", AdminTarget.Describe(
            "Add a user and print their token (only the token, once; it is stored hashed), or write it to a 0600 file with -o. What they may reach is up to the rules (`jumpgate gateway rules`); `jumpgate gateway group add|remove` changes their groups later.",
            "jumpgate gateway add-user researcher --dir ./gw",
            "jumpgate gateway add-user alice --group students --dir ./gw -o alice.token"))
        {
            name, groups,
        };
        var target = AdminTarget.AddTo(command);
        var output = TokenOutput.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            await output.WriteAsync(result, async () =>
                (await admin.AddAsync(PrincipalKind.User, new AddPrincipalRequest(result.GetValue(name)!, Groups: result.GetValue(groups) ?? []), cancellationToken)).Token);
            return 0;
        });
        return command;
    }

    private static Command AddAdmin()
    {
        var name = new Argument<string>("name") { Description = "The admin's name, e.g. alice" };
        var command = new Command("add-admin", AdminTarget.Describe(
            "Add an admin and print their admin token (jgx_…, only the token, once; it is stored hashed), or write it to a 0600 file with -o. An admin token opens the gateway's admin API (`jumpgate admin login`, then --remote) and nothing else: it reaches no host.",
            "jumpgate gateway add-admin alice --dir ./gw -o alice-admin.token"))
        {
            name,
        };
        var target = AdminTarget.AddTo(command);
        var output = TokenOutput.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            await output.WriteAsync(result, async () =>
                (await admin.AddAsync(PrincipalKind.Admin, new AddPrincipalRequest(result.GetValue(name)!), cancellationToken)).Token);
            return 0;
        });
        return command;
    }

    private static Command ListPrincipals(string noun, PrincipalKind kind)
    {
        var json = Options.Json();
        var command = new Command(noun, AdminTarget.Describe(
            kind == PrincipalKind.User ? "List the gateway's users and their groups." : $"List the gateway's {noun}.",
            $"jumpgate gateway {noun} --dir ./gw"))
        {
            json,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var rows = await admin.ListAsync(kind, cancellationToken);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize([.. rows], AdminJson.Default.ListPrincipalView));
                return 0;
            }
            foreach (var row in rows)
            {
                var state = row.Disabled ? " (disabled)" : "";
                Console.WriteLine(kind switch
                {
                    PrincipalKind.Agent => $"{row.Name,-24} {row.Hosts}{state}",
                    PrincipalKind.User => $"{row.Name,-24} {string.Join(",", row.Groups.Select(g => "@" + g))}{state}".TrimEnd(),
                    _ => $"{row.Name}{state}",
                });
            }
            return 0;
        });
        return command;
    }

    private static Command Run()
    {
        var dir = Options.Dir();
        var verbose = Options.Verbose();
        var command = new Command("run", Options.Describe(
            "Run the gateway until Ctrl-C; then it stops accepting, gives open streams the drain timeout, and exits.",
            "jumpgate gateway run --dir ./gw"))
        {
            dir, verbose,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            await GatewayServer.RunAsync(result.GetValue(dir)!, logging => LoggingSetup.Configure(logging, result.GetValue(verbose)), cancellationToken);
            return 0;
        });
        return command;
    }

}
