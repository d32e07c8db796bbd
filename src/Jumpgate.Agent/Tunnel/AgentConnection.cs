using System.Threading.Channels;
using Jumpgate.Agent.Configuration;
using Jumpgate.Agent.Health;
using Jumpgate.Agent.HostKeys;
using Jumpgate.Agent.Hosting;
using Jumpgate.Core.Background;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Streams;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// One registration with the gateway: the control connection with its heartbeats, and the trunks,
/// the connections on which the gateway opens streams. Ends when the control connection does;
/// the trunks then carry the streams they have to their end and close. The heartbeat is this
/// registration's own task; the trunks and their streams belong to the runner, which waits for them on stop.
/// </summary>
internal sealed class AgentConnection : IAsyncDisposable
{
    /// <summary>The agent never keeps more trunks than this, whatever the gateway asks.</summary>
    private const int MaxTrunks = 16;

    private readonly AgentOptions _options;
    private readonly TlsStream _control;
    private readonly Reply _welcome;
    private readonly TaskGroup _streams;
    private readonly TaskGroup _trunks;
    private readonly TaskGroup _session;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly List<Trunk> _live = [];
    private readonly ServiceStreams _services;
    private readonly SessionReports _reports;
    private readonly Func<IReadOnlyList<ControlMessage>, Task<bool>> _trySend;
    private readonly HealthMonitor _health;
    private readonly Lock _healthGate = new();
    private readonly Dictionary<(string Host, string Service), HealthReport> _healthPending = [];
    private TaskCompletionSource _healthQueued = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AgentConnection(AgentOptions options, TlsStream control, Reply welcome, TaskGroup streams, TaskGroup trunks, HealthMonitor health, ServiceStreams services, SessionReports reports, TimeProvider time, ILogger logger)
    {
        _health = health;
        _options = options;
        _control = control;
        _welcome = welcome;
        _streams = streams;
        _trunks = trunks;
        _time = time;
        _logger = logger;
        _session = new TaskGroup(e => AgentLog.WorkFailed(logger, "the heartbeat", e));
        _services = services;
        _reports = reports;
        _trySend = TrySendAllAsync;
    }

    /// <summary>Cancelled when the registration ends: the trunks are dialled no more.</summary>
    private CancellationToken Ended => _session.Stopping;

    public string Agent => _welcome.Agent ?? "?";

    private int TrunkCount => Math.Clamp(_options.PoolSize ?? _welcome.PoolSize, 1, MaxTrunks);

    /// <param name="streams">Where the streams the gateway opens run; the caller waits for them when it stops.</param>
    /// <param name="trunks">Where this registration's trunks run, since they outlive it; the caller waits for them when it stops.</param>
    /// <param name="health">The services' checks, whose changes this registration reports to the gateway.</param>
    /// <param name="services">What serves the streams the gateway opens, with the direct sessions it holds: one per gateway, across its registrations.</param>
    /// <param name="reports">Where those sessions' reports go: this registration's control connection while it is up.</param>
    public static async Task<AgentConnection> ConnectAsync(AgentOptions options, TaskGroup streams, TaskGroup trunks, HealthMonitor health, ServiceStreams services, SessionReports reports, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var hello = new Hello { Type = HelloType.Agent, Token = options.Token, Version = AgentVersion.Current, Hosts = options.Announcement(), Certificate = DirectCertificate.Fingerprint, PlainLegs = true, DirectSessions = options.DirectSessions };
        var (control, welcome) = await GatewayDialer.HandshakeAsync(options.Gateway, hello, cancellationToken);
        var connection = new AgentConnection(options, control, welcome, streams, trunks, health, services, reports, time, logger);
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
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Ended);
        var interval = TimeSpan.FromMilliseconds(Math.Max(100, _welcome.HeartbeatMs));
        var deadline = interval * 3;
        _session.Start(ended => PingAsync(interval, ended));
        _session.Start(ReportHealthAsync);
        _session.Start(ReportHostKeysAsync);
        for (var i = 0; i < TrunkCount; i++)
        {
            _trunks.Start(KeepTrunkAsync);
        }
        var lastHeard = _time.GetTimestamp();
        try
        {
            // The direct sessions' reports, those held since the last registration first, go on this connection from now on.
            await _reports.AttachAsync(_trySend);
            _services.AskAgain();
            while (true)
            {
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                silence.CancelAfter(deadline - _time.GetElapsedTime(lastHeard));
                var message = await Frame.ReadAsync(_control, ProtocolJson.Default.ControlMessage, silence.Token);
                lastHeard = _time.GetTimestamp();
                if (message.Type == ControlMessage.Ping)
                {
                    await SendAsync(new ControlMessage { Type = ControlMessage.Pong });
                }
                else if (message.Type == ControlMessage.SessionStream)
                {
                    _services.OnSessionMessage(message);
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
        finally
        {
            await _reports.DetachAsync(_trySend);
        }
    }

    private async Task PingAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var ticker = new PeriodicTimer(interval, _time);
        while (await ticker.WaitForNextTickAsync(cancellationToken))
        {
            await SendAsync(new ControlMessage { Type = ControlMessage.Ping });
        }
    }

    /// <summary>
    /// Tells the gateway each service's change of health, starting with what it cannot assume
    /// (services that failed a check before this registration). Changes wait here while a write is
    /// under way, the latest per service only, so a stalled connection holds one report per service at most.
    /// </summary>
    private async Task ReportHealthAsync(CancellationToken ended)
    {
        using var listening = _health.Listen(report =>
        {
            lock (_healthGate)
            {
                _healthPending[(report.Host, report.Service)] = report;
                _healthQueued.TrySetResult();
            }
        });
        while (true)
        {
            HealthReport[] reports;
            Task queued;
            lock (_healthGate)
            {
                reports = [.. _healthPending.Values];
                _healthPending.Clear();
                if (_healthQueued.Task.IsCompleted)
                {
                    _healthQueued = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                queued = _healthQueued.Task;
            }
            foreach (var report in reports)
            {
                await SendAsync(new ControlMessage { Type = ControlMessage.Health, Host = report.Host, Service = report.Service, Healthy = report.Healthy, Reason = report.Reason });
            }
            if (reports.Length == 0)
            {
                await queued.WaitAsync(ended);
            }
        }
    }

    /// <summary>
    /// Reads the host keys of every host's ssh service and sends them to the gateway, which
    /// vouches for them to ssh users (docs/protocol.md, "Host keys"); then again for each ssh
    /// service whose health check finds it back, since a server that restarted may have new keys.
    /// </summary>
    private async Task ReportHostKeysAsync(CancellationToken ended)
    {
        var hosts = _options.Hosts.Values.Where(h => h.Services.ContainsKey(HostKeyScanner.SshService)).ToList();
        if (hosts.Count == 0)
        {
            return;
        }
        // One slot per host: a second "back" for a host already waiting adds nothing.
        var back = Channel.CreateBounded<HostTarget>(new BoundedChannelOptions(hosts.Count) { FullMode = BoundedChannelFullMode.DropWrite });
        var listening = false;
        using var listener = _health.Listen(report =>
        {
            // What Listen replays at once is the state before this registration; the first scan below covers it.
            if (listening && report.Healthy && report.Service == HostKeyScanner.SshService && _options.Hosts.GetValueOrDefault(report.Host) is { } host)
            {
                back.Writer.TryWrite(host);
            }
        });
        listening = true;
        var sent = 0;
        await Parallel.ForEachAsync(hosts, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ended }, async (host, cancellationToken) =>
        {
            if (await ScanAndSendAsync(host, cancellationToken))
            {
                Interlocked.Increment(ref sent);
            }
        });
        AgentLog.HostKeysSent(_logger, sent, hosts.Count, _options.Gateway.ToString());
        await foreach (var host in back.Reader.ReadAllAsync(ended))
        {
            await ScanAndSendAsync(host, ended);
        }
    }

    private async Task<bool> ScanAndSendAsync(HostTarget host, CancellationToken cancellationToken)
    {
        IReadOnlyList<Core.Security.SshHostKey> keys;
        try
        {
            keys = await HostKeyScanner.ScanAsync(host, host.Services[HostKeyScanner.SshService], cancellationToken);
        }
        catch (HostKeyScanException e)
        {
            AgentLog.HostKeysUnread(_logger, host.Name, e.Message);
            return false;
        }
        AgentLog.HostKeysRead(_logger, host.Name, string.Join(", ", keys.Select(k => k.Describe())));
        await SendAsync(new ControlMessage { Type = ControlMessage.HostKeys, Host = host.Name, Service = HostKeyScanner.SshService, Keys = [.. keys.Select(k => k.ToString())] });
        return true;
    }

    /// <summary>Writes one frame on the control connection; if it could not, the read loop notices the dead connection and ends the registration.</summary>
    private async Task SendAsync(ControlMessage message) => await TrySendAllAsync([message]);

    /// <summary>Writes <paramref name="messages"/> as whole frames in one write; false when it could not.</summary>
    private async Task<bool> TrySendAllAsync(IReadOnlyList<ControlMessage> messages)
    {
        var frames = messages.Select(m => Frame.Encode(m, ProtocolJson.Default.ControlMessage)).ToList();
        var all = new byte[frames.Sum(f => f.Length)];
        var at = 0;
        foreach (var frame in frames)
        {
            frame.CopyTo(all, at);
            at += frame.Length;
        }
        await _writeLock.WaitAsync(CancellationToken.None);
        try
        {
            // Whole frames only: a write cancelled halfway would corrupt the control stream.
            await _control.WriteAsync(all, CancellationToken.None);
            await _control.FlushAsync(CancellationToken.None);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
        {
            return false;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Keeps one trunk connected while the session lasts, redialling it if it drops; the last one
    /// drains when the session ends and this returns once it closed, or once <paramref name="abort"/> (the runner's stop) cuts it.
    /// </summary>
    private async Task KeepTrunkAsync(CancellationToken abort)
    {
        // Return to the caller at once: the connect and TLS handshake run off its path.
        await Task.Yield();
        var backoff = new Backoff(TimeSpan.FromSeconds(2));
        while (!Ended.IsCancellationRequested)
        {
            try
            {
                var hello = new Hello { Type = HelloType.AgentTrunk, Token = _options.Token, Session = _welcome.Session };
                var (tls, _) = await GatewayDialer.HandshakeAsync(_options.Gateway, hello, Ended);
                var trunk = new Trunk(tls, opener: false, accept: Accept, acceptFailed: e => AgentLog.WorkFailed(_logger, "a stream", e));
                lock (_live)
                {
                    _live.Add(trunk);
                    if (Ended.IsCancellationRequested)
                    {
                        trunk.Drain();
                    }
                }
                backoff.Reset();
                // Not cancelled with the session: a trunk drains (DisposeAsync) so its streams finish.
                // Only the runner's stop cuts it, once those streams had their drain timeout.
                await trunk.RunAsync(abort);
                lock (_live)
                {
                    _live.Remove(trunk);
                }
            }
            catch (GatewayException e) when (e.Refused)
            {
                // The session is gone (the gateway restarted or replaced it): the control connection notices and reconnects.
                return;
            }
            catch (Exception e) when (e is GatewayException or IOException or OperationCanceledException or ProtocolException or ObjectDisposedException)
            {
                // Unreachable for now; try again below unless the session is over.
            }
            try
            {
                await Task.Delay(backoff.Next(), _time, Ended);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A new stream runs with the runner's streams, which a stop lets finish; the trunk only hands it over.</summary>
    private Task Accept(TrunkStream stream)
    {
        _streams.Start(static (accepted, aborted) => accepted.Services.ServeAsync(accepted.Stream, aborted), (Services: _services, Stream: stream));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Ends the registration and waits for its heartbeat. The trunks are not waited for: each
    /// finishes the streams it carries (the runner's drain bounds that on stop) and then closes,
    /// while the agent reconnects.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        // First the connection, so that a heartbeat write under way fails instead of holding the wait below.
        await _control.DisposeAsync();
        await _session.DisposeAsync();
        Trunk[] live;
        lock (_live)
        {
            live = [.. _live];
        }
        // Outside the lock: a trunk with no stream closes at once, and its end removes it from the
        // list on this very thread (cancellation runs its continuations inline).
        foreach (var trunk in live)
        {
            trunk.Drain();
        }
    }
}
