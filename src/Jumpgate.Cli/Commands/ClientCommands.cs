using System.CommandLine;
using System.Text.Json;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Api;
using Jumpgate.Core.Config;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary>The laptop side: log in to a gateway, list what you can reach, and wire up OpenSSH.</summary>
internal static class ClientCommands
{
    /// <summary>The suffix that sends a host name through Jumpgate: <c>ssh node1.jg</c>.</summary>
    public const string HostSuffix = ".jg";

    public static Command Login()
    {
        var url = GatewaysArgument();
        var token = new Option<string?>("--token") { Description = "Your user token; - reads it from stdin (keeps it out of the process list). Default: $JUMPGATE_TOKEN" };
        var tokenFile = new Option<string?>("--token-file") { Description = "Read your user token from this file" };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "The gateway's certificate fingerprint to pin (from its admin); leave out for a CA-signed certificate" };
        var sso = new Option<bool>("--sso") { Description = "Sign in through the gateway's identity provider (shows a code to confirm in a browser) instead of with a token" };
        var sshConfig = new Option<bool>("--ssh-config") { Description = "Then put the Jumpgate block in ~/.ssh/config, as `jumpgate ssh-config --install` does, so that `ssh HOST.jg` works next" };
        var command = new Command("login", Options.Describe(
            "Check the gateway and your token, then save both under $XDG_CONFIG_HOME/jumpgate (mode 0600). Several gateways that share a store: give them all; every command asks the one that answered last first, then the others in this order.",
            "jumpgate login https://127.0.0.1:7443 --token jgu_… --fingerprint SHA256:…",
            "jumpgate login https://gw1.example.org https://gw2.example.org --token-file me.token --fingerprint SHA256:…",
            "jumpgate login https://gw.example.org --token-file alice.token --fingerprint SHA256:… --ssh-config && ssh node1.jg",
            "jumpgate login https://gw.example.org --sso"))
        {
            url, token, tokenFile, fingerprint, sso, sshConfig,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var gateways = ParseGateways(result.GetValue(url)!, result.GetValue(fingerprint));
            var grant = result.GetValue(sso) ? await SsoSignIn.DeviceAsync(gateways, Console.Error, cancellationToken) : null;
            var secret = grant?.Token ?? ReadToken(result.GetValue(token), result.GetValue(tokenFile));
            // The login's own order; the gateway that answers it is the one the next command asks first.
            using var api = new GatewayApi(gateways, secret, GatewayPreference.Of(gateways).Answered);
            var me = await api.WhoAmIAsync(cancellationToken);
            new ClientSettings
            {
                Gateway = gateways[0].ToString(), Gateways = gateways.Count > 1 ? gateways.Select(g => g.ToString()).ToList() : null,
                Fingerprint = gateways[0].Pinned?.ToString(), Token = secret, TokenExpires = grant?.Expires, TokenRenews = grant?.Renews, SsoRefreshToken = grant?.RefreshToken,
            }.Save();
            var others = gateways.Count > 1 ? $" (and {gateways.Count - 1} more when it does not answer: {ClientSettings.Describe([.. gateways.Where(g => g != api.Gateway)])})" : "";
            Console.Error.WriteLine($"logged in to {api.Gateway} as {me.User}{others}; settings saved in {ClientSettings.FilePath}");
            if (result.GetValue(sshConfig))
            {
                WriteSshConfig(StreamPathChoice.Of(trunk: false, direct: false, tlsLegs: false), tlsLegsFor: [], install: true, file: null);
            }
            return 0;
        });
        return command;
    }

    public static Command List()
    {
        var json = Options.Json();
        var watch = new Option<bool>("--watch", "-w") { Description = "Keep looking and redraw whenever something changes (hosts, health, open streams), until Ctrl-C" };
        var interval = new Option<TimeSpan>("--interval")
        {
            Description = "With --watch: how often to look, at least 1s",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(2),
            CustomParser = argument => Durations.TryParse(argument.Tokens[0].Value, out var value) ? value : throw new CliException($"--interval: expected a duration such as 2s, not {argument.Tokens[0].Value}"),
        };
        var count = new Option<int?>("--count") { Description = "With --watch: stop after this many draws" };
        var command = new Command("ls", Options.Describe(
            "List the hosts and services you may reach, online or not.",
            "jumpgate ls",
            "jumpgate ls --watch",
            "jumpgate ls --json | jq '.[] | select(.online) | .name'"))
        {
            json, watch, interval, count,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(watch))
            {
                return await StatusCommands.WatchAsync(result.GetValue(json), result.GetValue(interval), result.GetValue(count), cancellationToken);
            }
            using var api = GatewayApi.FromSettings(ClientSettings.Load());
            var hosts = await api.HostsAsync(cancellationToken);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(hosts, ApiJson.Default.IReadOnlyListHostListing));
                return 0;
            }
            if (hosts.Count == 0)
            {
                Console.Error.WriteLine("no hosts yet: no agent has announced one");
                return 0;
            }
            Console.Write(RenderHosts(hosts, DateTimeOffset.UtcNow, offlineAges: true));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// `jumpgate ls`'s table. <paramref name="offlineAges"/> false writes when a host was last seen
    /// instead of how long ago, so that a watch redraws on a change, not on every tick of the clock.
    /// </summary>
    internal static string RenderHosts(IReadOnlyList<HostListing> hosts, DateTimeOffset now, bool offlineAges)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine($"{"HOST",-24} {"STATUS",-24} {"AGENT",-16} SERVICES");
        foreach (var host in hosts)
        {
            var seen = host.LastSeen ?? now;
            var status = host.Online ? "online"
                : offlineAges ? $"offline ({Durations.Humanize(now - seen)} ago)"
                : $"offline (since {seen.ToLocalTime():HH:mm:ss})";
            var services = string.Join(", ", host.Services.Select(s => s.Http ? s.Name + " (http)" : s.Name));
            text.AppendLine($"{host.Name,-24} {status,-24} {string.Join(",", host.Agents),-16} {services}");
            // Replicas only where there is something to tell: several agents, or a check that fails.
            if (host.Replicas.Select(r => r.Agent).Distinct().Count() > 1 || host.Replicas.Any(r => !r.Healthy))
            {
                foreach (var replica in host.Replicas)
                {
                    var failure = replica.LastFailure is null ? "" : $"  last failure: {replica.LastFailure}";
                    text.AppendLine($"  replica {replica.Agent,-16} {replica.Service,-16} {(replica.Healthy ? "healthy" : "UNHEALTHY"),-10} {replica.OpenStreams,4} open{failure}");
                }
            }
        }
        return text.ToString();
    }

    public static Command Open()
    {
        var host = new Argument<string?>("host") { Description = "The host, as `jumpgate ls` lists it", Arity = ArgumentArity.ZeroOrOne };
        var service = new Argument<string?>("service") { Description = "An HTTP service of the host (ls marks them (http)), e.g. jupyter", Arity = ArgumentArity.ZeroOrOne };
        var dashboard = new Option<bool>("--dashboard") { Description = "A one-time sign-in link to the gateway's dashboard instead of a service (agents, hosts, your streams)" };
        var admin = new Option<bool>("--admin") { Description = "With --dashboard: sign the browser in as the admin `jumpgate admin login` saved, who sees everything and can disable users and agents" };
        var browser = new Option<bool>("--browser") { Description = "Open the one-time sign-in link in the default browser (xdg-open, open), through a page only you can read: the link never appears in a process list; waits until the browser has loaded it" };
        var json = Options.Json();
        var command = new Command("open", Options.Describe(
            "Print an HTTP service's address on the gateway (or the dashboard's) and a one-time link (valid 5 minutes) that signs a browser in on it.",
            "jumpgate open node1 jupyter",
            "jumpgate open node1 tensorboard --browser",
            "jumpgate open --dashboard",
            "jumpgate open --dashboard --admin --browser"))
        {
            host, service, dashboard, admin, browser, json,
        };
        command.Validators.Add(result =>
        {
            var named = result.GetValue(host) is not null || result.GetValue(service) is not null;
            if (result.GetValue(dashboard) ? named : result.GetValue(host) is null || result.GetValue(service) is null)
            {
                result.AddError(result.GetValue(dashboard) ? "--dashboard takes no host or service" : "give a host and a service (jumpgate open node1 jupyter), or --dashboard");
            }
            else if (result.GetValue(admin) && !result.GetValue(dashboard))
            {
                result.AddError("--admin goes with --dashboard: services are opened as a user");
            }
        });
        command.SetAction(async (result, cancellationToken) =>
        {
            OpenLink link;
            if (result.GetValue(admin))
            {
                using var remote = Admin.RemoteAdmin.FromSettings(AdminSettings.Load());
                link = await remote.DashboardAsync(cancellationToken);
            }
            else
            {
                using var api = GatewayApi.FromSettings(ClientSettings.Load());
                link = result.GetValue(dashboard)
                    ? await api.DashboardAsync(cancellationToken)
                    : await api.OpenAsync(result.GetValue(host)!, result.GetValue(service)!, cancellationToken);
            }
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(link, ApiJson.Default.OpenLink));
            }
            else
            {
                PrintLink(link, Console.Out);
            }
            if (result.GetValue(browser))
            {
                await Browser.OpenAsync(link.SignInUrl, cancellationToken);
            }
            return 0;
        });
        return command;
    }

    /// <summary>A service's address and its one-time sign-in link, as `open` prints them.</summary>
    public static void PrintLink(OpenLink link, TextWriter output)
    {
        output.WriteLine(link.Url);
        output.WriteLine($"sign in once (valid {link.ExpiresInSeconds / 60} minutes): {link.SignInUrl}");
    }

    public static Command SshConfig()
    {
        var command = new Command("ssh-config", Options.Describe(
            $"Print an OpenSSH config block that sends every host ending in {HostSuffix} through Jumpgate (ProxyCommand `jumpgate proxy %h %p`), or put it in ~/.ssh/config with --install.",
            "jumpgate ssh-config --install && ssh node1.jg",
            "jumpgate ssh-config >> ~/.ssh/config"));
        var direct = new Option<bool>("--direct")
        {
            Description = "Write `proxy --direct`: insist on direct legs (by default proxy makes them when it can and otherwise goes through the gateway's TLS)",
        };
        var trunk = new Option<bool>("--trunk") { Description = "Write `proxy --trunk`: SSH inside the gateway's TLS on both sides, no direct legs" };
        var tlsLegs = new Option<bool>("--tls-legs")
        {
            Description = "Write `proxy --tls-legs` for every host: TLS end to end with the agent around SSH on the direct legs, instead of plain legs that carry SSH's own encryption",
        };
        var tlsLegsFor = new Option<string[]>("--tls-legs-for")
        {
            Description = $"As --tls-legs, for this host only (repeat for more; HOST or HOST{HostSuffix}, ssh patterns allowed): a Host block of its own before the general one",
            AllowMultipleArgumentsPerToken = false,
        };
        var install = new Option<bool>("--install")
        {
            Description = "Add the block to the ssh config between marker lines, or update it there; the rest of the file is kept byte for byte and the old file is kept as config.jumpgate-backup. Running it again changes nothing",
        };
        var file = new Option<string?>("--file") { Description = "With --install: the ssh config to write; default ~/.ssh/config (created mode 0600, its folder 0700)" };
        command.Options.Add(direct);
        command.Options.Add(trunk);
        command.Options.Add(tlsLegs);
        command.Options.Add(tlsLegsFor);
        command.Options.Add(install);
        command.Options.Add(file);
        command.SetAction(result =>
        {
            WriteSshConfig(StreamPathChoice.Of(result.GetValue(trunk), result.GetValue(direct), result.GetValue(tlsLegs)), result.GetValue(tlsLegsFor) ?? [], result.GetValue(install), result.GetValue(file));
            return 0;
        });
        return command;
    }

    /// <summary>`ssh-config`'s work, which `login --ssh-config` shares: print the block, or install it in <paramref name="file"/> (default ~/.ssh/config).</summary>
    private static void WriteSshConfig(StreamPathChoice choice, IReadOnlyList<string> tlsLegsFor, bool install, string? file)
    {
        if (Onboarding.OpenSshVersion.Installed() is { } version && version < Onboarding.OpenSshVersion.KnownHostsCommand)
        {
            // Plain legs lean on the host keys the gateway vouches for; without them a first connection would take any key, so the legs keep TLS.
            Console.Error.WriteLine($"warning: this OpenSSH ({version}) is older than {Onboarding.OpenSshVersion.KnownHostsCommand}, which can ask `jumpgate known-hosts` for the host keys the gateway vouches for; the block leaves host keys to ssh's own questions and keeps TLS on the legs");
            choice = choice with { Plain = false };
        }
        var block = SshBlock(choice, tlsLegsFor);
        if (!install)
        {
            Console.Write(block);
            return;
        }
        var path = file ?? Onboarding.SshConfigFile.DefaultPath;
        var outcome = Onboarding.SshConfigFile.Install(path, block);
        Console.Error.WriteLine(outcome switch
        {
            Onboarding.SshConfigFile.Outcome.Unchanged => $"{path} already has this Jumpgate block; nothing changed",
            Onboarding.SshConfigFile.Outcome.Created => $"created {path} (mode 0600) with the Jumpgate block; try `ssh HOST{HostSuffix}`",
            _ => $"{(outcome == Onboarding.SshConfigFile.Outcome.Added ? "added the Jumpgate block to" : "updated the Jumpgate block in")} {path}; the previous file is {path}.jumpgate-backup",
        });
    }

    /// <summary>
    /// The block `ssh-config` prints and installs: every *.jg host through this very program on
    /// <paramref name="path"/> (default: direct, on plain legs for ssh, docs/protocol.md "Plain legs"),
    /// and before it a block per host in <paramref name="tlsLegsFor"/> whose ProxyCommand keeps TLS
    /// on the legs (ssh takes the first ProxyCommand that matches; every other option still comes from the general block).
    /// On plain legs `proxy --fdpass` hands ssh the leg itself (docs/protocol.md, "Handing ssh the leg"); a
    /// per-host block on TLS legs says ProxyUseFdpass no, as its proxy relays and ssh would otherwise take the general yes.
    /// </summary>
    public static string SshBlock(StreamPathChoice? path = null, IReadOnlyList<string>? tlsLegsFor = null)
    {
        path ??= StreamPathChoice.Default;
        var fdpass = path is { Direct: true, Plain: true };
        var perHost = string.Concat((tlsLegsFor ?? []).Select(host => $"""
            Host {(host.EndsWith(HostSuffix, StringComparison.OrdinalIgnoreCase) ? host : host + HostSuffix)}
                ProxyCommand {SelfCommand()} proxy --tls-legs %h %p
            {(fdpass ? "    ProxyUseFdpass no\n" : "")}
            """));
        return $"""
            # Jumpgate: `ssh HOST{HostSuffix}` reaches HOST through the gateway; SSH stays end to end.
            {perHost}Host *{HostSuffix}
                ProxyCommand {SelfCommand()} proxy {(fdpass ? "--fdpass " : "")}{ProxyOptions(path)}%h %p
            {(fdpass ? "    ProxyUseFdpass yes\n" : "")}    ServerAliveInterval 15
                ServerAliveCountMax 3
            {HostKeyChecking()}
            """;
    }

    /// <summary>The options `proxy` gets in ssh-config for a path choice: nothing for the default.</summary>
    private static string ProxyOptions(StreamPathChoice path) => string.Concat(path.Arguments().Select(option => option + " "));

    /// <summary>
    /// Host keys checked against the ones the gateway vouches for, and never taken on trust
    /// (docs/threat-model.md, "Host keys"); left out for an ssh older than 8.5, which would refuse
    /// the whole config over the unknown keyword, so that ssh asks about a first key as it always did.
    /// </summary>
    private static string HostKeyChecking() => Onboarding.OpenSshVersion.Installed() is { } version && version < Onboarding.OpenSshVersion.KnownHostsCommand
        ? ""
        : $"    KnownHostsCommand {SelfCommand()} known-hosts %H\n    StrictHostKeyChecking yes\n";

    /// <summary>How to run this very program again from ssh: the apphost if there is one, else `dotnet jumpgate.dll`.</summary>
    public static string SelfCommand()
    {
        var (program, assembly) = SelfProgram();
        return assembly is null ? Quote(program) : $"{Quote(program)} {Quote(assembly)}";
    }

    /// <summary>The program that runs this one again, and the assembly to give it first when that program is `dotnet`.</summary>
    public static (string Program, string? Assembly) SelfProgram()
    {
        var apphost = Path.Combine(AppContext.BaseDirectory, "jumpgate");
        if (File.Exists(apphost))
        {
            return (apphost, null);
        }
        var process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? (process, Path.Combine(AppContext.BaseDirectory, "jumpgate.dll"))
            : (process, null);
    }

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"\"{path}\"" : path;

    /// <summary>`login URL [URL…]`: one gateway, or several that share a store, in the order to try them.</summary>
    internal static Argument<string[]> GatewaysArgument() => new("gateway")
    {
        Description = "The gateway's address, e.g. https://gw.example.org; give several gateways that share a store to use whichever answers, first one first",
        Arity = ArgumentArity.OneOrMore,
    };

    /// <summary>Every address parsed with the one fingerprint; a typo or a repeat is refused before anything is asked.</summary>
    internal static IReadOnlyList<GatewayEndpoint> ParseGateways(IReadOnlyList<string> addresses, string? fingerprint)
    {
        var gateways = new List<GatewayEndpoint>();
        foreach (var address in addresses)
        {
            GatewayEndpoint gateway;
            try
            {
                gateway = GatewayEndpoint.Parse(address, fingerprint);
            }
            catch (FormatException e)
            {
                throw new CliException(e.Message);
            }
            if (gateways.Contains(gateway))
            {
                throw new CliException($"gateway {gateway} is given twice");
            }
            gateways.Add(gateway);
        }
        return gateways;
    }

    private static string ReadToken(string? token, string? tokenFile) =>
        ReadToken(token, tokenFile, PrincipalKind.User, "JUMPGATE_TOKEN", "your user token (jgu_…, from `jumpgate gateway add-user`)");

    /// <summary>A token from --token (- for stdin), --token-file or an environment variable, checked to be of <paramref name="kind"/>.</summary>
    internal static string ReadToken(string? token, string? tokenFile, PrincipalKind kind, string variable, string what)
    {
        var secret = token switch
        {
            "-" => Console.In.ReadLine(),
            not null => token,
            null when tokenFile is not null => File.ReadAllText(tokenFile),
            _ => Environment.GetEnvironmentVariable(variable),
        };
        // A warning, not a refusal: login copies the token into a 0600 file, and the user may be about to delete this one.
        if (token is null && tokenFile is not null && PrivateFile.Exposure(tokenFile) is { } exposure)
        {
            Console.Error.WriteLine($"warning: {exposure}");
        }
        secret = secret?.Trim();
        if (!TokenSecret.TryParse(secret, out var parsed) || parsed.Kind != kind)
        {
            throw new CliException($"give {what} with --token, --token-file or ${variable}");
        }
        return secret!;
    }
}
