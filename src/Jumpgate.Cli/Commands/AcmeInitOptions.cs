using System.CommandLine;
using Jumpgate.Cli.Client;
using Jumpgate.Gateway.Hosting;

namespace Jumpgate.Cli.Commands;

/// <summary>`gateway init --acme EMAIL …`: the options that write gateway.yaml's acme: section.</summary>
internal sealed class AcmeInitOptions
{
    private readonly Option<string?> _email = new("--acme") { Description = "Get the certificate from an ACME CA (default Let's Encrypt), with this e-mail address as the account's contact" };
    private readonly Option<string?> _directory = new("--acme-directory") { Description = "With --acme: the CA's directory URL; default Let's Encrypt's" };
    private readonly Option<string?> _challenge = new("--acme-challenge") { Description = "With --acme: http-01 (default; the CA asks on port 80) or dns-01 (also the wildcard for the services' subdomains; needs the --dns-* options)" };
    private readonly Option<string?> _httpListen = new("--acme-http-listen") { Description = "With --acme: where HTTP-01's plain-HTTP port listens; default 0.0.0.0:80" };
    private readonly Option<string?> _dnsServer = new("--dns-server") { Description = "With dns-01: the DNS server that takes RFC 2136 updates, address[:port]" };
    private readonly Option<string?> _dnsZone = new("--dns-zone") { Description = "With dns-01: the zone the challenge records go into" };
    private readonly Option<string?> _dnsKeyName = new("--dns-key-name") { Description = "With dns-01: the TSIG key's name" };
    private readonly Option<string?> _dnsKeyFile = new("--dns-key-file") { Description = "With dns-01: the TSIG key file (tsig-keygen's output)" };

    public void AddTo(Command command)
    {
        foreach (var option in new[] { _email, _directory, _challenge, _httpListen, _dnsServer, _dnsZone, _dnsKeyName, _dnsKeyFile })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The section to write, or null without --acme; a missing DNS setting is named before anything is written.</summary>
    public AcmeInit? Read(ParseResult result)
    {
        if (result.GetValue(_email) is not { } email)
        {
            return null;
        }
        var challenge = result.GetValue(_challenge);
        if (challenge is not (null or "http-01" or "dns-01"))
        {
            throw new CliException($"--acme-challenge '{challenge}' is not http-01 or dns-01");
        }
        var dns = new[] { (_dnsServer, result.GetValue(_dnsServer)), (_dnsZone, result.GetValue(_dnsZone)), (_dnsKeyName, result.GetValue(_dnsKeyName)), (_dnsKeyFile, result.GetValue(_dnsKeyFile)) };
        if (challenge == "dns-01" && dns.Where(d => d.Item2 is null).Select(d => d.Item1.Name).ToList() is { Count: > 0 } missing)
        {
            throw new CliException($"--acme-challenge dns-01 needs {string.Join(", ", missing)}");
        }
        var keyFile = result.GetValue(_dnsKeyFile) is { } file ? Path.GetFullPath(file) : null;
        return new AcmeInit(email, result.GetValue(_directory), challenge, result.GetValue(_httpListen),
            result.GetValue(_dnsServer), result.GetValue(_dnsZone), result.GetValue(_dnsKeyName), keyFile);
    }
}
