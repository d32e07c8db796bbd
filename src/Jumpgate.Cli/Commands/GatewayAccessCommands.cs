using System.CommandLine;
using System.Text.Json;
using Jumpgate.Cli.Admin;
using Jumpgate.Core.Api;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway grant|revoke|rules|group</c>: who may reach which hosts and services.</summary>
internal static class GatewayAccessCommands
{
    public static Command Grant() => RuleCommand(
        "grant",
        "Let a user or a group reach the hosts that match a pattern: every service, or only those named with --service. Takes effect at once, without a restart.",
        ["jumpgate gateway grant @students 'node*' --service ssh --service jupyter --dir ./gw", "jumpgate gateway grant researcher lab-pc --dir ./gw"],
        async (admin, rule, cancellationToken) =>
        {
            if (await admin.GrantAsync(rule, cancellationToken) is { Changed: false, Message: { } message })
            {
                Console.Error.WriteLine(message);
            }
        });

    public static Command Revoke() => RuleCommand(
        "revoke",
        "Remove a rule given to grant (the same arguments; without --service, the rule for every service of that pattern). Open streams it no longer allows close within a few seconds. Revoking @everyone '*' makes access deny-by-default.",
        ["jumpgate gateway revoke @everyone '*' --dir ./gw", "jumpgate gateway revoke @students 'node*' --service jupyter --dir ./gw"],
        (admin, rule, cancellationToken) => admin.RevokeAsync(rule, cancellationToken));

    public static Command Rules()
    {
        var json = Options.Json();
        var command = new Command("rules", AdminTarget.Describe(
            "List who may reach what. A user may reach a host's service if a rule for them, one of their groups, or @everyone allows it; nothing else is reachable.",
            "jumpgate gateway rules --dir ./gw"))
        {
            json,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var rules = await admin.RulesAsync(cancellationToken);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize([.. rules], AdminJson.Default.ListRuleView));
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

    /// <summary><c>jumpgate gateway group add|remove USER GROUP...</c>: change a user's groups after add-user.</summary>
    public static Command Group() => new("group", "Put a user into groups or take them out; rules on those groups apply to their open streams within a few seconds")
    {
        GroupChange(add: true),
        GroupChange(add: false),
    };

    private static Command GroupChange(bool add)
    {
        var user = new Argument<string>("user") { Description = "The user's name" };
        var groups = new Argument<string[]>("group") { Description = "One or more groups, with or without @", Arity = ArgumentArity.OneOrMore };
        var verb = add ? "add" : "remove";
        var command = new Command(verb, AdminTarget.Describe(
            add
                ? "Put a user into one or more groups: rules granted to those groups apply to them at once, and to their open streams within the access re-check interval."
                : "Take a user out of one or more groups: open streams that only those groups' rules allowed close within the access re-check interval.",
            $"jumpgate gateway group {verb} alice students --dir ./gw"))
        {
            user, groups,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var change = await admin.ChangeGroupsAsync(result.GetValue(user)!, result.GetValue(groups) ?? [], add, cancellationToken);
            if (change.Message is { } message)
            {
                Console.Error.WriteLine(message);
            }
            return 0;
        });
        return command;
    }

    private static Command RuleCommand(string name, string what, string[] examples, Func<IGatewayAdmin, RuleRequest, CancellationToken, Task> apply)
    {
        var subject = new Argument<string>("subject") { Description = "A user's name, or @group (@everyone is every user)" };
        var hosts = new Argument<string>("host-pattern") { Description = "Hosts by glob, e.g. 'node*' or 'node*,lab-pc' (quote it from the shell)" };
        var services = new Option<string[]>("--service") { Description = "A service the rule allows (repeatable); every service when left out", AllowMultipleArgumentsPerToken = false };
        var command = new Command(name, AdminTarget.Describe(what, examples))
        {
            subject, hosts, services,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            await apply(admin, new RuleRequest(result.GetValue(subject)!, result.GetValue(hosts)!, result.GetValue(services) ?? []), cancellationToken);
            return 0;
        });
        return command;
    }
}
