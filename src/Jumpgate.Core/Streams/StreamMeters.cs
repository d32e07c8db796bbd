namespace Jumpgate.Core.Streams;

/// <summary>
/// The bytes a stream has carried each way so far, by role. A splice counts into it as it
/// copies (one writer per direction), so anyone may read a live stream's figures while it runs.
/// </summary>
internal sealed class StreamMeters
{
    private long _toService;
    private long _toUser;

    /// <summary>Bytes from the user's side to the service's.</summary>
    public long ToService => Volatile.Read(ref _toService);

    /// <summary>Bytes from the service's side to the user's.</summary>
    public long ToUser => Volatile.Read(ref _toUser);

    /// <summary>Bytes counted elsewhere and reported once (the agent's count of a stream inside a direct session).</summary>
    internal void Add(long toService, long toUser)
    {
        Interlocked.Add(ref _toService, toService);
        Interlocked.Add(ref _toUser, toUser);
    }

    internal void Add(bool toService, int count)
    {
        // One writer per direction: a plain add, published for readers on other threads.
        if (toService)
        {
            Volatile.Write(ref _toService, _toService + count);
        }
        else
        {
            Volatile.Write(ref _toUser, _toUser + count);
        }
    }
}
