using System.Globalization;
using System.Net;
using Jumpgate.Gateway.Configuration;

namespace Jumpgate.Cli.Onboarding;

/// <summary>The address agents and users give for a gateway, worked out from its gateway.yaml.</summary>
internal static class GatewayAddress
{
    /// <summary>
    /// https://DOMAIN[:PORT]; a gateway still named localhost on a loopback address is given by that
    /// address, since "localhost" may resolve to ::1 first, where it does not listen.
    /// </summary>
    public static string Of(GatewayOptions options)
    {
        var host = options.Domain == "localhost" && IPAddress.IsLoopback(options.Listen.Address)
            ? options.Listen.Address.ToString()
            : options.Domain;
        var port = options.Listen.Port switch
        {
            443 => "",
            0 => ":PORT",
            var p => ":" + p.ToString(CultureInfo.InvariantCulture),
        };
        return $"https://{host}{port}";
    }
}
