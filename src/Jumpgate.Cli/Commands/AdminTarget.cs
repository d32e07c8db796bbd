using System.CommandLine;
using Jumpgate.Cli.Admin;
using Jumpgate.Cli.Client;

namespace Jumpgate.Cli.Commands;

/// <summary>
/// The two options every admin command takes: <c>--dir DIR</c> acts on the store of the gateway
/// in DIR (on the gateway's machine); <c>--remote</c> acts through the admin API of the gateway
/// that `jumpgate admin login` saved, with its admin token.
/// </summary>
internal sealed class AdminTarget
{
    private readonly Option<string> _dir = Options.Dir();

    private readonly Option<bool> _remote = new("--remote")
    {
        Description = "Act through the admin API of the gateway saved by `jumpgate admin login`, instead of on the store in --dir",
    };

    public static AdminTarget AddTo(Command command)
    {
        var target = new AdminTarget();
        command.Options.Add(target._dir);
        command.Options.Add(target._remote);
        return target;
    }

    public IGatewayAdmin Open(ParseResult result)
    {
        if (!result.GetValue(_remote))
        {
            return new LocalAdmin(result.GetValue(_dir)!);
        }
        if (result.GetResult(_dir) is { Implicit: false })
        {
            throw new CliException("give --dir (the store on this machine) or --remote (the gateway `jumpgate admin login` saved), not both");
        }
        return RemoteAdmin.FromSettings(AdminSettings.Load());
    }

    /// <summary>Whether the command was pointed at a gateway's store or admin API at all (`status` without either speaks as the user).</summary>
    public bool IsGiven(ParseResult result) => result.GetValue(_remote) || result.GetResult(_dir) is { Implicit: false };

    /// <summary>Where agents reach the gateway: from gateway.yaml in --dir, or the addresses `admin login` saved.</summary>
    public IReadOnlyList<string> GatewayAddresses(ParseResult result) => result.GetValue(_remote)
        ? [.. AdminSettings.Load().Endpoints().Select(e => e.ToString())]
        : [Onboarding.GatewayAddress.Of(Jumpgate.Gateway.Configuration.GatewayOptions.Load(result.GetValue(_dir)!))];

    /// <summary>The fingerprint agents pin: the certificate in --dir, or the one `admin login` pinned (null for a CA-signed gateway).</summary>
    public string? Fingerprint(ParseResult result)
    {
        if (result.GetValue(_remote))
        {
            return AdminSettings.Load().Fingerprint;
        }
        var options = Jumpgate.Gateway.Configuration.GatewayOptions.Load(result.GetValue(_dir)!);
        if (options.Acme is not null)
        {
            // Its certificate comes from a CA and changes at every renewal: agents trust the CA.
            return null;
        }
        using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(System.IO.File.ReadAllText(options.CertificatePath));
        return Core.Security.Fingerprint.Of(certificate).ToString();
    }

    /// <summary>A command's examples plus the remote form of the first one.</summary>
    public static string Describe(string what, params string[] examples) =>
        Options.Describe(what, [.. examples, examples[0].Replace(" --dir ./gw", " --remote", StringComparison.Ordinal)]);
}
