using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Acme;

/// <summary>The certificate's log events (ids 120–129). Ids are stable; never reuse one.</summary>
internal static partial class AcmeLog
{
    [LoggerMessage(120, LogLevel.Information, "obtaining a certificate for {Names} from {Directory}", EventName = "AcmeObtaining")]
    public static partial void Obtaining(ILogger logger, string names, string directory);

    [LoggerMessage(121, LogLevel.Information, "certificate renewed: valid until {NotAfter:u}, fingerprint {Fingerprint}", EventName = "AcmeRenewed")]
    public static partial void Renewed(ILogger logger, DateTime notAfter, string fingerprint);

    [LoggerMessage(122, LogLevel.Warning, "certificate renewal failed: {Reason}; serving the current certificate (valid until {NotAfter:u}) and trying again at {Retry:u}", EventName = "AcmeRenewalFailed")]
    public static partial void RenewalFailed(ILogger logger, string reason, DateTime notAfter, DateTimeOffset retry);

    [LoggerMessage(123, LogLevel.Warning, "the kept certificate {Path} cannot be used ({Reason}); ordering a new one", EventName = "AcmeKeptUnusable")]
    public static partial void KeptUnusable(ILogger logger, string path, string reason);
}
