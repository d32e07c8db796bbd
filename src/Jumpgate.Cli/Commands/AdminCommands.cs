using System.CommandLine;
using Jumpgate.Cli.Admin;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate admin login</c>: manage a gateway from another machine, through its admin API.</summary>
internal static class AdminCommands
{
    public const string TokenVariable = "JUMPGATE_ADMIN_TOKEN";

    public static Command Create() => new("admin", "Manage a gateway remotely: log in with an admin token, then give --remote to any `jumpgate gateway` admin command")
    {
        Login(),
    };

    private static Command Login()
    {
        var url = ClientCommands.GatewaysArgument();
        var token = new Option<string?>("--token") { Description = $"Your admin token (jgx_…); - reads it from stdin (keeps it out of the process list). Default: ${TokenVariable}" };
        var tokenFile = new Option<string?>("--token-file") { Description = "Read your admin token from this file" };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "The gateway's certificate fingerprint to pin; leave out for a CA-signed certificate" };
        var command = new Command("login", Options.Describe(
            "Check the gateway and your admin token (from `jumpgate gateway add-admin`), then save both in $XDG_CONFIG_HOME/jumpgate/admin.json (mode 0600), apart from your user login. Afterwards every `jumpgate gateway` admin command takes --remote instead of --dir.",
            "jumpgate admin login https://gw.example.org:443 --token-file alice-admin.token --fingerprint SHA256:…",
            "jumpgate gateway grant @students 'node*' --service ssh --remote",
            "jumpgate gateway audit --since 1h --remote"))
        {
            url, token, tokenFile, fingerprint,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var secret = ReadToken(result.GetValue(token), result.GetValue(tokenFile));
            var gateways = ClientCommands.ParseGateways(result.GetValue(url)!, result.GetValue(fingerprint));
            using var api = new GatewayApi(gateways, secret, GatewayPreference.Of(gateways).Answered);
            using var admin = new RemoteAdmin(api);
            var me = await admin.WhoAmIAsync(cancellationToken);
            new AdminSettings
            {
                Gateway = gateways[0].ToString(), Gateways = gateways.Count > 1 ? gateways.Select(g => g.ToString()).ToList() : null,
                Fingerprint = gateways[0].Pinned?.ToString(), Token = secret,
            }.Save();
            Console.Error.WriteLine($"logged in to {api.Gateway} as admin {me.Admin}; settings saved in {AdminSettings.FilePath}");
            return 0;
        });
        return command;
    }

    private static string ReadToken(string? token, string? tokenFile) =>
        ClientCommands.ReadToken(token, tokenFile, PrincipalKind.Admin, TokenVariable, "your admin token (jgx_…, from `jumpgate gateway add-admin`)");
}
