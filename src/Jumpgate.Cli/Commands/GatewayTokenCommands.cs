using System.CommandLine;
using System.Text.Json;
using Jumpgate.Core.Api;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate gateway disable|enable|tokens|token-add|token-revoke</c>: the lifecycle of users, agents, admins and their tokens.</summary>
internal static class GatewayTokenCommands
{
    public static Command Disable(bool disable)
    {
        var kind = KindArgument();
        var name = new Argument<string>("name") { Description = "The user's, agent's or admin's name" };
        var verb = disable ? "disable" : "enable";
        var command = new Command(verb, AdminTarget.Describe(
            disable
                ? "Disable a user, an agent or an admin: none of its tokens authenticates any more, and its open streams (or an agent's session) close within a few seconds."
                : "Enable a disabled user, agent or admin again; its tokens that are neither revoked nor expired work again.",
            $"jumpgate gateway {verb} user researcher --dir ./gw"))
        {
            kind, name,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            await admin.SetDisabledAsync(PrincipalKinds.Parse(result.GetValue(kind)), result.GetValue(name)!, disable, cancellationToken);
            return 0;
        });
        return command;
    }

    public static Command List()
    {
        var json = Options.Json();
        var command = new Command("tokens", AdminTarget.Describe(
            "List every token: its public id, whose it is, when it was made, when it expires and whether it is revoked. Secrets are never shown (the store holds only their hashes).",
            "jumpgate gateway tokens --dir ./gw"))
        {
            json,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var tokens = await admin.TokensAsync(cancellationToken);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize([.. tokens], AdminJson.Default.ListTokenView));
                return 0;
            }
            Console.WriteLine($"{"ID",-14} {"KIND",-6} {"PRINCIPAL",-20} {"CREATED",-20} {"EXPIRES",-20} STATE");
            var now = DateTimeOffset.UtcNow;
            foreach (var t in tokens)
            {
                var state = t.Revoked ? "revoked" : t.Expires <= now ? "expired" : "active";
                Console.WriteLine($"{t.Id,-14} {t.Kind,-6} {t.Principal,-20} {t.Created:yyyy-MM-dd HH:mm:ss}  {(t.Expires is { } e ? e.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) : "never"),-20} {state}");
            }
            return 0;
        });
        return command;
    }

    public static Command Add()
    {
        var kind = KindArgument();
        var name = new Argument<string>("name") { Description = "The user's, agent's or admin's name" };
        var expires = new Option<string?>("--expires") { Description = "How long the token lives, e.g. 12h or 30d; forever when left out" };
        var command = new Command("token-add", AdminTarget.Describe(
            "Issue one more token for a user, an agent or an admin and print it (only the token, once; it is stored hashed), or write it to a 0600 file with -o. Rotate a token by adding a new one and revoking the old one.",
            "jumpgate gateway token-add user researcher --expires 30d --dir ./gw -o researcher.token"))
        {
            kind, name, expires,
        };
        var target = AdminTarget.AddTo(command);
        var output = TokenOutput.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            await output.WriteAsync(result, async () =>
                (await admin.AddTokenAsync(new AddTokenRequest(result.GetValue(kind)!, result.GetValue(name)!, result.GetValue(expires)), cancellationToken)).Token);
            return 0;
        });
        return command;
    }

    public static Command Revoke()
    {
        var id = new Argument<string>("id") { Description = "The token's public id, as `jumpgate gateway tokens` lists it" };
        var command = new Command("token-revoke", AdminTarget.Describe(
            "Revoke one token: it stops authenticating at once, and connections it opened close within a few seconds.",
            "jumpgate gateway token-revoke 3f9a0c12d4e5 --dir ./gw"))
        {
            id,
        };
        var target = AdminTarget.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            using var admin = target.Open(result);
            var row = await admin.RevokeTokenAsync(result.GetValue(id)!, cancellationToken);
            Console.Error.WriteLine($"revoked token {row.Id} of {row.Kind} {row.Principal}");
            return 0;
        });
        return command;
    }

    private static Argument<string> KindArgument() => new("kind") { Description = "user, agent or admin" };
}
