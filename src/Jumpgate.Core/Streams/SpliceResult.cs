namespace Jumpgate.Core.Streams;

/// <summary>Which leg of a splice ended it, so logs say "the client went away" rather than "IOException".</summary>
internal enum SpliceOutcome
{
    /// <summary>Both directions reached end of stream.</summary>
    Completed,

    /// <summary>Reading from the first side failed or it reset the connection.</summary>
    FirstFailed,

    /// <summary>Reading from the second side failed or it reset the connection.</summary>
    SecondFailed,

    /// <summary>The caller cancelled the splice (shutdown, revocation).</summary>
    Canceled,
}

/// <summary>How a splice ended and how many bytes moved each way.</summary>
internal readonly record struct SpliceResult(SpliceOutcome Outcome, long FirstToSecond, long SecondToFirst, Exception? Error = null);
