using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;

namespace Jumpgate.Cli.Client;

/// <summary>
/// How `proxy` and `forward` ask for a stream's path (docs/protocol.md, "Direct by default"):
/// direct by default, on plain legs for an SSH service, and through the gateway when no direct leg
/// can be made; <c>--direct</c> insists, <c>--tls-legs</c> keeps TLS on an SSH service's legs,
/// <c>--trunk</c> asks for the gateway's TLS alone.
/// </summary>
internal sealed record StreamPathChoice(bool Direct, bool Plain, bool Fallback)
{
    public static StreamPathChoice Default { get; } = new(Direct: true, Plain: true, Fallback: true);

    public static StreamPathChoice Trunk { get; } = new(Direct: false, Plain: false, Fallback: false);

    /// <summary>The choice the command line made, or why it makes none.</summary>
    public static StreamPathChoice Of(bool trunk, bool direct, bool tlsLegs) =>
        trunk && (direct || tlsLegs)
            ? throw new CliException("--trunk carries the stream through the gateway's TLS; it cannot be combined with --direct or --tls-legs")
            : trunk ? Trunk : new(Direct: true, Plain: !tlsLegs, Fallback: !direct);

    /// <summary>The `proxy` options that ask for this choice: none for the default.</summary>
    public IReadOnlyList<string> Arguments() => this switch
    {
        { Direct: false } => ["--trunk"],
        _ => [.. Fallback ? Array.Empty<string>() : ["--direct"], .. Plain ? Array.Empty<string>() : ["--tls-legs"]],
    };

    /// <summary>This end of a direct stream the gateway gave a ticket for: a plain leg, or a leg with TLS to the agent across it.</summary>
    public static async Task<ConnectionStream> JoinAsync(GatewayEndpoint gateway, DirectTicket ticket, CancellationToken cancellationToken) =>
        ticket.Plain
            ? await PlainLeg.DialAsync(gateway, ticket, PlainLeg.UserEnd, cancellationToken)
            : await DirectLeg.ConnectAsUserAsync(gateway, ticket, cancellationToken);

    /// <summary>What `-v` says about the path a stream took.</summary>
    public static string Describe(string host, string service, Reply answer) => answer.Direct switch
    {
        { Plain: true } => $"{host}:{service}: direct, on plain legs the gateway relays (SSH encrypts it end to end)",
        not null => $"{host}:{service}: direct, TLS end to end with the agent across the gateway",
        null => $"{host}:{service}: through the gateway's TLS, not direct: {answer.Fallback ?? "the gateway made no direct leg (is it older than this client?)"}",
    };
}
