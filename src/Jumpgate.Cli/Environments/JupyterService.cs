using Jumpgate.Cli.Client;
using Jumpgate.Cli.Commands;
using Jumpgate.Core.Api;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// A Jupyter the host's agent already serves as an HTTP service: `jumpgate jupyter` opens its subdomain
/// (as `jumpgate open HOST SERVICE` does) rather than starting another one over ssh. A service counts
/// as Jupyter when it is the one --service names, or, unasked, an HTTP service named `jupyter` or `lab`:
/// names are all the gateway knows of a service, and these are the ones people give it.
/// </summary>
internal static class JupyterService
{
    public static readonly string[] Names = ["jupyter", "lab"];

    /// <summary>The gateway's name for an ssh name: node1.jg is the gateway's node1.</summary>
    public static string GatewayHost(string sshHost) =>
        sshHost.EndsWith(ClientCommands.HostSuffix, StringComparison.Ordinal) ? sshHost[..^ClientCommands.HostSuffix.Length] : sshHost;

    /// <summary>
    /// Opens the host's Jupyter service and returns 0, or returns null where there is none to open (the
    /// caller starts one over ssh). With <paramref name="service"/> there must be one: its absence is an error.
    /// </summary>
    public static async Task<int?> TryOpenAsync(string sshHost, string? service, bool openBrowser, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        var host = GatewayHost(sshHost);
        // Not logged in: only ssh can reach the host, unless the user asked for a service.
        if (service is null && !File.Exists(ClientSettings.FilePath))
        {
            return null;
        }
        using var api = GatewayApi.FromSettings(ClientSettings.Load());
        IReadOnlyList<HostListing> hosts;
        try
        {
            hosts = await api.HostsAsync(cancellationToken);
        }
        catch (CliException e) when (service is null)
        {
            // Asking is a convenience here: a gateway that does not answer must not stop the ssh path.
            errors.WriteLine($"could not ask the gateway for {host}'s services ({e.Message}); starting Jupyter over ssh");
            return null;
        }
        var http = hosts.FirstOrDefault(h => h.Name == host)?.Services.Where(s => s.Http).Select(s => s.Name).ToList() ?? [];
        var chosen = service is null ? Names.FirstOrDefault(http.Contains) : http.Contains(service) ? service : null;
        if (chosen is null)
        {
            return service is null ? null : throw new CliException(
                $"{host} has no HTTP service {service} (its HTTP services: {(http.Count == 0 ? "none" : string.Join(", ", http))}); see `jumpgate ls`");
        }
        var link = await api.OpenAsync(host, chosen, cancellationToken);
        output.WriteLine($"{host}'s agent serves Jupyter as the HTTP service {chosen}: opening it on the gateway (nothing started over ssh)");
        ClientCommands.PrintLink(link, output);
        await output.FlushAsync(cancellationToken);
        if (openBrowser)
        {
            await Browser.OpenAsync(link.SignInUrl, cancellationToken);
        }
        return 0;
    }
}
