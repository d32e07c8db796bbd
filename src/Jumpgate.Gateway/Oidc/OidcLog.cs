using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Oidc;

/// <summary>The identity provider's log lines; ids 400-419 are this component's.</summary>
internal static partial class OidcLog
{
    [LoggerMessage(400, LogLevel.Information, "sign-in with {Issuer} is offered (client {ClientId})", EventName = "OidcReady")]
    public static partial void Ready(ILogger logger, Uri issuer, string clientId);

    [LoggerMessage(401, LogLevel.Warning, "the identity provider {Issuer} cannot be read now ({Reason}); its sign-in button says so until it can, and user tokens keep working", EventName = "OidcUnreachable")]
    public static partial void Unreachable(ILogger logger, Uri issuer, string reason);

    [LoggerMessage(402, LogLevel.Warning, "sign-in with the identity provider failed: {Reason}", EventName = "OidcSignInFailed")]
    public static partial void SignInFailed(ILogger logger, string reason);

    [LoggerMessage(403, LogLevel.Warning, "could not refresh {User}'s sign-in at {Issuer} ({Reason}); it stays until the provider answers", EventName = "OidcRefreshUnreachable")]
    public static partial void RefreshUnreachable(ILogger logger, Uri issuer, string user, string reason);

    [LoggerMessage(404, LogLevel.Information, "{User}'s sign-in through the identity provider ended: {Reason}", EventName = "OidcSignInEnded")]
    public static partial void SignInEnded(ILogger logger, string user, string reason);
}
