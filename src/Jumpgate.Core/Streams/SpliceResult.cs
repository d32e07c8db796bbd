namespace Jumpgate.Core.Streams;

/// <summary>
/// Who ended a splice, named by role, so logs and audit say "the user went away" or "the service
/// reset the connection" rather than "IOException". The user's side is the one a person started
/// (their TLS to the gateway, the agent's trunk stream from the gateway, the CLI's local
/// connection); the service's side leads towards the service.
/// </summary>
internal enum SpliceOutcome
{
    /// <summary>Both directions reached end of stream.</summary>
    Completed,

    /// <summary>The user's side failed or reset the connection.</summary>
    UserSideFailed,

    /// <summary>The service's side failed, reset the connection, or refused the stream.</summary>
    ServiceSideFailed,

    /// <summary>The caller cancelled the splice (shutdown, revocation).</summary>
    Canceled,
}

/// <summary>How a splice ended and how many bytes moved each way, by role.</summary>
internal readonly record struct SpliceResult(SpliceOutcome Outcome, long ToService, long ToUser, Exception? Error = null);
