namespace Jumpgate.Gateway.Auth;

/// <summary>
/// A live connection that an authentication allowed: a user's stream or an agent's session,
/// with the token that opened it. The access monitor re-checks it and cancels <see cref="Revoked"/>
/// when the store no longer allows it. Disposing it stops the checks.
/// </summary>
internal sealed class LiveGrant : IDisposable
{
    private readonly CancellationTokenSource _revoked = new();
    private readonly Action<LiveGrant> _untrack;
    private string? _reason;

    private LiveGrant(string? user, string agent, string tokenId, string? host, string? service, Action<LiveGrant> untrack)
    {
        User = user;
        Agent = agent;
        TokenId = tokenId;
        Host = host;
        Service = service;
        _untrack = untrack;
    }

    public static LiveGrant ForStream(string user, string tokenId, string host, string service, string agent, Action<LiveGrant> untrack) =>
        new(user, agent, tokenId, host, service, untrack);

    public static LiveGrant ForAgent(string agent, string tokenId, Action<LiveGrant> untrack) =>
        new(null, agent, tokenId, null, null, untrack);

    /// <summary>A user's trunk: it carries no stream of its own, but it must open none once its token is revoked.</summary>
    public static LiveGrant ForTrunk(string user, string tokenId, Action<LiveGrant> untrack) =>
        new(user, "", tokenId, null, null, untrack);

    /// <summary>The user of a stream or a trunk; null for an agent's session.</summary>
    public string? User { get; }

    /// <summary>The agent that serves the stream, or whose session this is.</summary>
    public string Agent { get; }

    /// <summary>The public id of the token that opened the connection (never its secret).</summary>
    public string TokenId { get; }

    public string? Host { get; }

    public string? Service { get; }

    public bool IsStream => Host is not null;

    public bool IsAgent => User is null;

    public bool IsTrunk => User is not null && Host is null;

    /// <summary>Fires when the store no longer allows this connection.</summary>
    public CancellationToken Revoked => _revoked.Token;

    /// <summary>Why it was revoked, in words; null while it is allowed.</summary>
    public string? Reason => Volatile.Read(ref _reason);

    public void Revoke(string reason)
    {
        if (Interlocked.CompareExchange(ref _reason, reason, null) is null)
        {
            _revoked.Cancel();
        }
    }

    /// <remarks>The token source is not disposed: a sweep that read this grant before it was untracked may still revoke it, and a source without a timer holds nothing to free.</remarks>
    public void Dispose() => _untrack(this);
}
