using System.CommandLine;
using System.Text.Json;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Config;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway disable|enable|tokens|token-add|token-revoke</c>: the lifecycle of users, agents and their tokens.</summary>
internal static class GatewayTokenCommands
{
    public static Command Disable(bool disable)
    {
        var dir = Options.Dir();
        var kind = KindArgument();
        var name = new Argument<string>("name") { Description = "The user's or agent's name" };
        var verb = disable ? "disable" : "enable";
        var command = new Command(verb, Options.Describe(
            disable
                ? "Disable a user or an agent: none of its tokens authenticates any more, and its open streams (or an agent's session) close within a few seconds."
                : "Enable a disabled user or agent again; its tokens that are neither revoked nor expired work again.",
            $"jumpgate gateway {verb} user researcher --dir ./gw"))
        {
            kind, name, dir,
        };
        command.SetAction(result =>
        {
            GatewayCommands.OpenStore(result.GetValue(dir)!).SetDisabled(ParseKind(result.GetValue(kind)!), result.GetValue(name)!, disable);
            return 0;
        });
        return command;
    }

    public static Command List()
    {
        var dir = Options.Dir();
        var json = Options.Json();
        var command = new Command("tokens", Options.Describe(
            "List every token: its public id, whose it is, when it was made, when it expires and whether it is revoked. Secrets are never shown (the store holds only their hashes).",
            "jumpgate gateway tokens --dir ./gw"))
        {
            dir, json,
        };
        command.SetAction(result =>
        {
            var tokens = GatewayCommands.OpenStore(result.GetValue(dir)!).ListTokens();
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize([.. tokens.Select(t => new TokenView(t.Id, Kind(t.Kind), t.Principal, t.Created, t.Expires, t.Revoked))], AdminJson.Default.ListTokenView));
                return 0;
            }
            Console.WriteLine($"{"ID",-14} {"KIND",-6} {"PRINCIPAL",-20} {"CREATED",-20} {"EXPIRES",-20} STATE");
            var now = DateTimeOffset.UtcNow;
            foreach (var t in tokens)
            {
                var state = t.Revoked ? "revoked" : t.Expires <= now ? "expired" : "active";
                Console.WriteLine($"{t.Id,-14} {Kind(t.Kind),-6} {t.Principal,-20} {t.Created:yyyy-MM-dd HH:mm:ss}  {(t.Expires is { } e ? e.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) : "never"),-20} {state}");
            }
            return 0;
        });
        return command;
    }

    public static Command Add()
    {
        var dir = Options.Dir();
        var kind = KindArgument();
        var name = new Argument<string>("name") { Description = "The user's or agent's name" };
        var expires = new Option<string?>("--expires") { Description = "How long the token lives, e.g. 12h or 30d; forever when left out" };
        var command = new Command("token-add", Options.Describe(
            "Issue one more token for a user or an agent and print it (only the token, once; it is stored hashed). Rotate a token by adding a new one and revoking the old one.",
            "jumpgate gateway token-add user researcher --expires 30d --dir ./gw > researcher.token"))
        {
            kind, name, expires, dir,
        };
        command.SetAction(result =>
        {
            var now = DateTimeOffset.UtcNow;
            DateTimeOffset? until = null;
            if (result.GetValue(expires) is { } text)
            {
                if (!Durations.TryParse(text, out var span) || span <= TimeSpan.Zero)
                {
                    throw new CliException($"--expires '{text}' is not a duration such as 12h or 30d");
                }
                until = now + span;
            }
            var token = GatewayCommands.OpenStore(result.GetValue(dir)!).AddToken(ParseKind(result.GetValue(kind)!), result.GetValue(name)!, now, until);
            Console.WriteLine(token);
            return 0;
        });
        return command;
    }

    public static Command Revoke()
    {
        var dir = Options.Dir();
        var id = new Argument<string>("id") { Description = "The token's public id, as `jumpgate gateway tokens` lists it" };
        var command = new Command("token-revoke", Options.Describe(
            "Revoke one token: it stops authenticating at once, and connections it opened close within a few seconds.",
            "jumpgate gateway token-revoke 3f9a0c12d4e5 --dir ./gw"))
        {
            id, dir,
        };
        command.SetAction(result =>
        {
            var row = GatewayCommands.OpenStore(result.GetValue(dir)!).RevokeToken(result.GetValue(id)!);
            Console.Error.WriteLine($"revoked token {row.Id} of {Kind(row.Kind)} {row.Principal}");
            return 0;
        });
        return command;
    }

    private static Argument<string> KindArgument() => new("kind") { Description = "user or agent" };

    private static PrincipalKind ParseKind(string text) => text switch
    {
        "user" => PrincipalKind.User,
        "agent" => PrincipalKind.Agent,
        _ => throw new CliException($"'{text}' is neither user nor agent"),
    };

    private static string Kind(PrincipalKind kind) => kind == PrincipalKind.User ? "user" : "agent";
}

/// <summary>A token as <c>gateway tokens --json</c> prints it: never its secret.</summary>
internal sealed record TokenView(string Id, string Kind, string Principal, DateTimeOffset Created, DateTimeOffset? Expires, bool Revoked);
