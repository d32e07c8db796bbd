using System.Text;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Cli.Client;

/// <summary>
/// The order in which the CLI tries the gateways of a login: the one that answered last first
/// (its address kept in <see cref="FileName"/>, mode 0600, beside the login), then the others in
/// the login's order. Without it, while the first gateway of a login is down every command pays
/// for passing over it (a refused connect, or a silent machine's patience) before the next one answers.
/// </summary>
internal sealed class GatewayPreference
{
    public const string FileName = "last-gateway";

    private readonly string _path;
    private string? _remembered;

    /// <param name="path">The file that keeps the address; <see cref="Of"/> gives the CLI's own.</param>
    /// <param name="login">The gateways in the order the login gave them.</param>
    public GatewayPreference(string path, IReadOnlyList<GatewayEndpoint> login)
    {
        _path = path;
        // One gateway has no order to keep: nothing is read or written for it.
        _remembered = login.Count > 1 ? Read(path) : null;
        Gateways = login.Any(g => g.ToString() == _remembered)
            ? [.. login.Where(g => g.ToString() == _remembered), .. login.Where(g => g.ToString() != _remembered)]
            : login;
    }

    /// <summary>The CLI's preference for <paramref name="login"/>, kept in <see cref="ClientSettings.Directory"/>.</summary>
    public static GatewayPreference Of(IReadOnlyList<GatewayEndpoint> login) => new(Path.Combine(ClientSettings.Directory, FileName), login);

    /// <summary>The gateways in the order to try them.</summary>
    public IReadOnlyList<GatewayEndpoint> Gateways { get; }

    /// <summary>
    /// <paramref name="gateway"/> answered: it is asked first from now on. The file is written only
    /// when that changes, so a command that finds the same gateway as the last one writes nothing.
    /// </summary>
    public void Answered(GatewayEndpoint gateway)
    {
        var address = gateway.ToString();
        if (Gateways.Count < 2 || address == _remembered)
        {
            return;
        }
        try
        {
            ClientSettings.WritePrivate(_path, stream => stream.Write(Encoding.UTF8.GetBytes(address + "\n")));
            _remembered = address;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An order, not a setting: a config folder that cannot be written costs the next command a detour, never this one.
        }
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // None yet (or unreadable): the login's order.
            return null;
        }
    }
}
