using System.Net.Security;
using Jumpgate.Agent.Configuration;
using Jumpgate.Agent.Hosting;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// One registration with the gateway: the control connection with its heartbeats, and the pool
/// of idle connections the gateway hands to new streams. Ends when the control connection does;
/// streams already running are not part of it and carry on.
/// </summary>
internal sealed class AgentConnection : IAsyncDisposable
{
    /// <summary>The agent never holds more idle connections than this, whatever the gateway asks.</summary>
    private const int MaxIdle = 64;

    private readonly AgentOptions _options;
    private readonly SslStream _control;
    private readonly Reply _welcome;
    private readonly StreamTracker _streams;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _ended = new();
    private readonly List<Task> _dials = [];
    private int _idle;
    private int _dialing;

    private AgentConnection(AgentOptions options, SslStream control, Reply welcome, StreamTracker streams, TimeProvider time, ILogger logger)
    {
        _options = options;
        _control = control;
        _welcome = welcome;
        _streams = streams;
        _time = time;
        _logger = logger;
    }

    public string Agent => _welcome.Agent ?? "?";

    private int PoolTarget => _options.PoolSize ?? _welcome.PoolSize;

    public static async Task<AgentConnection> ConnectAsync(AgentOptions options, StreamTracker streams, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var hello = new Hello { Type = HelloType.Agent, Token = options.Token, Version = AgentVersion.Current, Hosts = options.Announcement() };
        var (control, welcome) = await GatewayDialer.HandshakeAsync(options.Gateway, hello, cancellationToken);
        var connection = new AgentConnection(options, control, welcome, streams, time, logger);
        foreach (var refusal in welcome.Refused ?? [])
        {
            AgentLog.HostRefused(logger, refusal);
        }
        var refused = new HashSet<string>(welcome.Refused ?? [], StringComparer.Ordinal);
        var served = options.Hosts.Values
            .Where(h => !refused.Any(r => r.Contains($"host {h.Name} ", StringComparison.Ordinal)))
            .Select(h => $"{h.Name} ({string.Join(", ", h.Services.Keys)})");
        AgentLog.Connected(logger, options.Gateway.ToString(), connection.Agent, string.Join("; ", served) is { Length: > 0 } text ? text : "no hosts");
        return connection;
    }

    /// <summary>Runs until the control connection ends or <paramref name="cancellationToken"/> fires; returns why it ended.</summary>
    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _ended.Token);
        var interval = TimeSpan.FromMilliseconds(Math.Max(100, _welcome.HeartbeatMs));
        var deadline = interval * 3;
        using var ticker = _time.CreateTimer(_ => _ = SendAsync(new ControlMessage { Type = ControlMessage.Ping }), null, interval, interval);
        Refill(Math.Max(0, PoolTarget));
        var lastHeard = _time.GetTimestamp();
        try
        {
            while (true)
            {
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                silence.CancelAfter(deadline - _time.GetElapsedTime(lastHeard));
                var message = await Frame.ReadAsync(_control, ProtocolJson.Default.ControlMessage, silence.Token);
                lastHeard = _time.GetTimestamp();
                switch (message.Type)
                {
                    case ControlMessage.Ping:
                        await SendAsync(new ControlMessage { Type = ControlMessage.Pong });
                        break;
                    case ControlMessage.Dial:
                        Refill(Math.Clamp(message.Count, 1, MaxIdle));
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no heartbeat for {deadline.TotalSeconds:0.#} s";
        }
        catch (OperationCanceledException)
        {
            return "stopping";
        }
        catch (Exception e) when (e is IOException or ProtocolException or ObjectDisposedException)
        {
            return e is ProtocolException ? $"protocol error ({e.Message})" : "the connection was closed";
        }
    }

    private async Task SendAsync(ControlMessage message)
    {
        await _writeLock.WaitAsync(CancellationToken.None);
        try
        {
            // Whole frames only: a write cancelled halfway would corrupt the control stream.
            await Frame.WriteAsync(_control, message, ProtocolJson.Default.ControlMessage, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
        {
            // The read loop notices the dead connection and ends the session.
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Dials up to <paramref name="count"/> more pool connections, never past <see cref="MaxIdle"/>.</summary>
    private void Refill(int count)
    {
        lock (_dials)
        {
            for (var i = 0; i < count && Volatile.Read(ref _idle) + Volatile.Read(ref _dialing) < MaxIdle && !_ended.IsCancellationRequested; i++)
            {
                Interlocked.Increment(ref _dialing);
                _dials.RemoveAll(t => t.IsCompleted);
                _dials.Add(PoolConnectionAsync(_ended.Token));
            }
        }
    }

    /// <summary>One pool connection: dial, wait idle for an open request, then carry that stream.</summary>
    private async Task PoolConnectionAsync(CancellationToken cancellationToken)
    {
        SslStream? tunnel = null;
        // Which counter this connection is in right now: dialing, then idle, then neither once it serves a stream.
        var dialing = true;
        var idle = false;
        // Return to the caller at once: dialing runs its connect and TLS handshake off the caller's path.
        await Task.Yield();
        try
        {
            var hello = new Hello { Type = HelloType.Pool, Token = _options.Token, Session = _welcome.Session };
            (tunnel, _) = await GatewayDialer.HandshakeAsync(_options.Gateway, hello, cancellationToken);
            Interlocked.Decrement(ref _dialing);
            dialing = false;
            Interlocked.Increment(ref _idle);
            idle = true;
            var request = await Frame.ReadAsync(tunnel, ProtocolJson.Default.OpenRequest, cancellationToken);
            Interlocked.Decrement(ref _idle);
            idle = false;
            // Serve first: the replacement's connect and TLS handshake must not delay this stream.
            _streams.Track(ServeAsync(tunnel, request));
            tunnel = null;
            if (Volatile.Read(ref _idle) + Volatile.Read(ref _dialing) < PoolTarget)
            {
                Refill(1);
            }
        }
        catch (Exception e) when (e is GatewayException or IOException or OperationCanceledException or ProtocolException or ObjectDisposedException)
        {
            // A pool connection that fails is simply not there; the control connection decides whether the session lives.
        }
        finally
        {
            if (dialing)
            {
                Interlocked.Decrement(ref _dialing);
            }
            if (idle)
            {
                Interlocked.Decrement(ref _idle);
            }
            if (tunnel is not null)
            {
                await tunnel.DisposeAsync();
            }
        }
    }

    private async Task ServeAsync(SslStream tunnel, OpenRequest request)
    {
        await using var _ = tunnel;
        var (target, address, error) = await ServiceDialer.ConnectAsync(_options, request.Host, request.Service, _streams.Aborted);
        if (target is null)
        {
            AgentLog.StreamFailed(_logger, request.Host, request.Service, error!);
            await TryWriteAsync(tunnel, Reply.Failure(error!));
            return;
        }
        await using (target)
        {
            if (!await TryWriteAsync(tunnel, Reply.Success))
            {
                return;
            }
            AgentLog.StreamOpened(_logger, request.Host, request.Service, address);
            var result = await Splice.RunAsync(tunnel, target, _streams.Aborted);
            AgentLog.StreamClosed(_logger, request.Host, request.Service, result.Outcome.ToString(), result.SecondToFirst, result.FirstToSecond);
        }
    }

    private static async Task<bool> TryWriteAsync(SslStream tunnel, Reply reply)
    {
        try
        {
            await Frame.WriteAsync(tunnel, reply, ProtocolJson.Default.Reply, CancellationToken.None);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _ended.CancelAsync();
        await _control.DisposeAsync();
        Task[] dials;
        lock (_dials)
        {
            dials = [.. _dials];
        }
        await Task.WhenAll(dials);
        _ended.Dispose();
    }
}
