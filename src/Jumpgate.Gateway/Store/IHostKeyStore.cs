namespace Jumpgate.Gateway.Store;

/// <summary>
/// A host's SSH host keys as the gateway vouches for them: <see cref="Keys"/>, the first an agent
/// read (or the last an admin accepted), and <see cref="Pending"/>, different keys an agent read
/// since, which are served to nobody until an admin accepts them. Keys are <c>TYPE BASE64</c>.
/// </summary>
internal sealed record HostKeyRecord(string Host, IReadOnlyList<string> Keys, string Agent, DateTimeOffset Recorded)
{
    public IReadOnlyList<string>? Pending { get; init; }
    public string? PendingAgent { get; init; }
    public DateTimeOffset? PendingSince { get; init; }
}

/// <summary>The host keys the gateway vouches for (docs/threat-model.md, "Host keys"); comparing them lives in <c>HostKeyRecords</c>.</summary>
internal interface IHostKeyStore
{
    /// <summary>The record of <paramref name="host"/>, or null when no keys were ever recorded for it.</summary>
    HostKeyRecord? Find(string host);

    /// <summary>Records <paramref name="host"/>'s first keys; false, changing nothing, when it has a record already.</summary>
    bool RecordFirst(string host, IReadOnlyList<string> keys, string agent, DateTimeOffset now);

    /// <summary>Sets or (with null keys) clears the keys waiting for an admin; the recorded keys stay as they are.</summary>
    void SetPending(string host, IReadOnlyList<string>? keys, string? agent, DateTimeOffset now);

    /// <summary>Makes the waiting keys the recorded ones; null when <paramref name="host"/> has none waiting.</summary>
    HostKeyRecord? AcceptPending(string host, DateTimeOffset now);

    /// <summary>Every record, ordered by host.</summary>
    IReadOnlyList<HostKeyRecord> List();
}
