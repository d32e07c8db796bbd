using Jumpgate.Cli.Client;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;

namespace Jumpgate.TestSupport;

/// <summary>
/// Many streams held open and idle through a gateway, the user side of a load test in one process:
/// user trunks as `jumpgate forward` dials them (its own <see cref="GatewayTrunk"/>), each stream opened
/// to an echo service behind an agent, proven with one 64-byte echo, then left silent. A trunk carries
/// at most <c>perTrunk</c> streams (the gateway's default limit is 256 a trunk), so many streams are many trunks.
/// </summary>
public sealed class IdleStreams : IAsyncDisposable
{
    private readonly List<GatewayTrunk> _trunks = [];
    private readonly Lock _gate = new();
    private readonly List<TrunkStream> _open = [];
    private readonly List<string> _errors = [];
    private int _failed;

    /// <summary>Streams open and idle now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>Streams that could not be opened (refused, reset, or a wrong echo).</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>The first few reasons streams failed, for the message of whoever expected none.</summary>
    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_gate)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>User trunks dialled to carry the streams.</summary>
    public int Trunks => _trunks.Count;

    /// <summary>
    /// Opens <paramref name="count"/> streams to <paramref name="service"/>, the hosts taken in turn, at most
    /// <paramref name="concurrency"/> opening at once (the gateway's default allows 64 a user). Bounded by
    /// the count and by <paramref name="timeout"/>, and it stops early once more than a tenth have failed.
    /// </summary>
    public static async Task<IdleStreams> OpenAsync(string gatewayUrl, string fingerprint, string userToken, IReadOnlyList<string> hosts, string service,
        int count, TimeSpan timeout, int perTrunk = 250, int concurrency = 32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perTrunk, 1);
        var idle = new IdleStreams();
        var gateway = GatewayEndpoint.Parse(gatewayUrl, fingerprint);
        for (var i = 0; i < (count + perTrunk - 1) / perTrunk; i++)
        {
            idle._trunks.Add(new GatewayTrunk(gateway, userToken, e => idle.Fail($"a trunk failed: {e.Message}")));
        }
        using var deadline = new CancellationTokenSource(timeout);
        using var slots = new SemaphoreSlim(concurrency, concurrency);
        var opening = new List<Task>(count);
        try
        {
            for (var i = 0; i < count && idle.Failed <= count / 10; i++)
            {
                await slots.WaitAsync(deadline.Token);
                opening.Add(idle.OpenOneAsync(idle._trunks[i / perTrunk], hosts[i % hosts.Count], service, slots, deadline.Token));
            }
        }
        catch (OperationCanceledException)
        {
            // Out of time: what opened so far is what the caller gets, and Failed says the rest did not.
        }
        await Task.WhenAll(opening);
        return idle;
    }

    private async Task OpenOneAsync(GatewayTrunk trunk, string host, string service, SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        TrunkStream? stream = null;
        // Which step a failure stopped at, so that a stream that hangs says where.
        var step = "starting";
        try
        {
            var payload = new byte[64];
            Random.Shared.NextBytes(payload);
            stream = await trunk.StartAsync(host, service, cancellationToken);
            // The first bytes ride with the request, as `forward` sends them.
            step = $"sending on stream {stream.Id}";
            await stream.WriteAsync(payload, cancellationToken);
            step = $"waiting for stream {stream.Id}'s answer";
            await trunk.ReadAnswerAsync(stream, cancellationToken);
            step = $"waiting for stream {stream.Id}'s echo";
            var back = new byte[payload.Length];
            await stream.ReadExactlyAsync(back, cancellationToken);
            if (!back.AsSpan().SequenceEqual(payload))
            {
                throw new IOException($"{host}:{service} echoed different bytes");
            }
            lock (_gate)
            {
                _open.Add(stream);
            }
            stream = null;
        }
        catch (Exception e) when (e is GatewayException or IOException or ProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            Fail($"{host}:{service}, {step}: {e.Message}");
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync();
            }
            slots.Release();
        }
    }

    private void Fail(string reason)
    {
        Interlocked.Increment(ref _failed);
        lock (_gate)
        {
            if (_errors.Count < 5)
            {
                _errors.Add(reason);
            }
        }
    }

    /// <summary>Closes every stream, as users closing their connections do; the trunks stay open.</summary>
    public async Task CloseStreamsAsync()
    {
        List<TrunkStream> open;
        lock (_gate)
        {
            open = [.. _open];
            _open.Clear();
        }
        foreach (var stream in open)
        {
            await stream.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseStreamsAsync();
        foreach (var trunk in _trunks)
        {
            await trunk.DisposeAsync();
        }
    }
}
