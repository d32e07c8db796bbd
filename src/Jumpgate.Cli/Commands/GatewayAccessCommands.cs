using System.CommandLine;
using System.Text.Json;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Store;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway grant|revoke|rules</c>: who may reach which hosts and services.</summary>
internal static class GatewayAccessCommands
{
    public static Command Grant() => RuleCommand(
        "grant",
        "Let a user or a group reach the hosts that match a pattern: every service, or only those named with --service. Takes effect at once, without a restart.",
        ["jumpgate gateway grant @students 'node*' --service ssh --service jupyter --dir ./gw", "jumpgate gateway grant researcher lab-pc --dir ./gw"],
        (store, rule) =>
        {
            if (!store.Grant(rule, DateTimeOffset.UtcNow))
            {
                Console.Error.WriteLine($"{rule.Subject} may reach '{rule.Hosts}' ({rule.DescribeServices()}) already");
            }
        });

    public static Command Revoke() => RuleCommand(
        "revoke",
        "Remove a rule given to grant (the same arguments; without --service, the rule for every service of that pattern). Open streams it no longer allows close within a few seconds. Revoking @everyone '*' makes access deny-by-default.",
        ["jumpgate gateway revoke @everyone '*' --dir ./gw", "jumpgate gateway revoke @students 'node*' --service jupyter --dir ./gw"],
        (store, rule) => store.Revoke(rule));

    public static Command Rules()
    {
        var dir = Options.Dir();
        var json = Options.Json();
        var command = new Command("rules", Options.Describe(
            "List who may reach what. A user may reach a host's service if a rule for them, one of their groups, or @everyone allows it; nothing else is reachable.",
            "jumpgate gateway rules --dir ./gw"))
        {
            dir, json,
        };
        command.SetAction(result =>
        {
            var rules = GatewayCommands.OpenStore(result.GetValue(dir)!).ListRules();
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize([.. rules.Select(r => new RuleView(r.Subject, r.Hosts.ToString(), r.Services))], AdminJson.Default.ListRuleView));
                return 0;
            }
            if (rules.Count == 0)
            {
                Console.Error.WriteLine("no rules: no user may reach anything (`jumpgate gateway grant @everyone '*'` opens everything)");
                return 0;
            }
            Console.WriteLine($"{"SUBJECT",-24} {"HOSTS",-24} SERVICES");
            foreach (var rule in rules)
            {
                Console.WriteLine($"{rule.Subject,-24} {rule.Hosts,-24} {(rule.Services.Count == 0 ? "all" : string.Join(", ", rule.Services))}");
            }
            return 0;
        });
        return command;
    }

    private static Command RuleCommand(string name, string what, string[] examples, Action<GatewayStore, AccessRule> apply)
    {
        var dir = Options.Dir();
        var subject = new Argument<string>("subject") { Description = "A user's name, or @group (@everyone is every user)" };
        var hosts = new Argument<string>("host-pattern") { Description = "Hosts by glob, e.g. 'node*' or 'node*,lab-pc' (quote it from the shell)" };
        var services = new Option<string[]>("--service") { Description = "A service the rule allows (repeatable); every service when left out", AllowMultipleArgumentsPerToken = false };
        var command = new Command(name, Options.Describe(what, examples))
        {
            subject, hosts, services, dir,
        };
        command.SetAction(result =>
        {
            var store = GatewayCommands.OpenStore(result.GetValue(dir)!);
            var rule = Parse(store, result.GetValue(subject)!, result.GetValue(hosts)!, result.GetValue(services) ?? [], requireUser: name == "grant");
            apply(store, rule);
            return 0;
        });
        return command;
    }

    private static AccessRule Parse(GatewayStore store, string subject, string hosts, IReadOnlyList<string> services, bool requireUser)
    {
        if (subject.StartsWith('@'))
        {
            if (!Names.IsValid(subject[1..]))
            {
                throw new CliException($"'{subject}' is not a valid group: use @ and {Names.Rule}");
            }
        }
        else if (!Names.IsValid(subject))
        {
            throw new CliException($"'{subject}' is not a valid user name: use {Names.Rule}, or @group");
        }
        else if (requireUser && !store.PrincipalExists(PrincipalKind.User, subject))
        {
            throw new CliException($"there is no user {subject} (add one with `jumpgate gateway add-user {subject}`, or give a group as @name)");
        }
        if (services.FirstOrDefault(s => !Names.IsValid(s)) is { } bad)
        {
            throw new CliException($"'{bad}' is not a valid service name: use {Names.Rule}");
        }
        return new AccessRule(subject, HostPatterns.Parse(hosts), [.. services.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]);
    }
}

/// <summary>A rule as <c>gateway rules --json</c> prints it; an empty services list means every service.</summary>
internal sealed record RuleView(string Subject, string Hosts, IReadOnlyList<string> Services);
