using System.Text;

namespace Jumpgate.Cli.Import;

/// <summary>
/// The <c>gateway init</c> line that stands in for an frps: its domain from <c>subDomainHost</c>, its
/// one HTTPS port from <c>vhostHTTPSPort</c> (where browsers already go) or else <c>bindPort</c>
/// (where frpc connected), its certificate from <c>transport.tls.certFile</c>/<c>keyFile</c>.
/// </summary>
internal static class FrpsImport
{
    public static (string Command, List<string> Notes) Import(FrpFile file, string dir)
    {
        var common = file.Common;
        var notes = new List<string>();
        var address = common.Get("bindaddr")?.Text ?? common.Get("bindaddress")?.Text ?? "0.0.0.0";
        var https = common.Get("vhosthttpsport");
        var bind = common.Get("bindport");
        var port = https ?? bind;
        var portText = port?.Text ?? "7000";
        if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            throw new Client.CliException($"{file.Path}:{port?.Line}: {port?.Key}: '{portText}' is not a port (1-65535)");
        }
        if (https is not null && bind is not null)
        {
            notes.Add($"{file.Path}:{bind.Line}: {bind.Key} = {bind.Text}: agents and users share the one HTTPS port {number} (frps's {https.Key}); move agents over before frps gives it up");
        }
        var command = new StringBuilder($"jumpgate gateway init --dir {dir} --listen {(address.Contains(':', StringComparison.Ordinal) ? $"[{address}]" : address)}:{number}");
        if (common.Get("subdomainhost") is { } domain)
        {
            command.Append($" --domain {domain.Text}");
        }
        else
        {
            notes.Add($"{file.Path}: no subDomainHost: add --domain with the gateway's DNS name; HTTP services get its subdomains");
        }
        if (common.Get("tlscertfile") is { } cert && common.Get("tlskeyfile") is { } key)
        {
            command.Append($" --cert {cert.Text} --key {key.Text}");
        }
        foreach (var (setting, why) in new[]
        {
            ("vhosthttpport", "the gateway serves HTTPS only; browsers are sent to its one port"),
            ("token", "the gateway issues a token per agent and per user (`gateway add-agent`, `add-user`)"),
            ("authtoken", "the gateway issues a token per agent and per user (`gateway add-agent`, `add-user`)"),
            ("allowports", "no port of the gateway is opened per proxy; users reach services by name"),
            ("kcpbindport", "agents connect over TCP and TLS only"),
            ("quicbindport", "agents connect over TCP and TLS only"),
        })
        {
            if (common.Get(setting) is { } value)
            {
                notes.Add($"{file.Path}:{value.Line}: {value.Key} not carried over: {why}");
            }
        }
        return (command.ToString(), notes);
    }
}
