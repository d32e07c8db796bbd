using Jumpgate.Core.Protocol;

namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// How the reports of the direct sessions served for one gateway reach it: over whichever control
/// connection is up. A session's legs are connections of their own and outlive the registration
/// they began under, so its reports must not die with it: those made while no control connection
/// is up, or whose write failed, wait here (in order, a bounded number) for the next one, and go
/// first on it. The gateway takes them from the same agent over any of its connections. A report is
/// posted, not written, by the stream it is about: one writer off the streams' path sends what was
/// posted meanwhile, in order, in one write, so a new stream never waits on the control connection.
/// What only records (a stream opened, closed, its progress) is gathered for up to
/// <see cref="GatherWindow"/> or <see cref="MaxGathered"/> reports first, so that the streams of a
/// busy session share one write and one read at the gateway instead of one each; what the session
/// waits on (a request for places, a refusal) goes at once and takes what was gathered with it.
/// </summary>
internal sealed class SessionReports(TimeSpan gatherWindow)
{
    /// <summary>Reports kept while no control connection is up; past this the oldest are dropped (the gateway closes what it never heard end when the session ends).</summary>
    private const int MaxHeld = 4096;

    /// <summary>As the gateway's audit writer gathers before it commits: the live figures lag by at most this.</summary>
    public static readonly TimeSpan GatherWindow = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Gathered reports that go without waiting out the window: the gateway tops a session's places
    /// up on its "opened" reports, with half of its largest credit (32) still ahead, so reports may
    /// lag by fewer streams than that (two reports each) or a fast session would run out and ask.
    /// </summary>
    public const int MaxGathered = 16;

    public SessionReports()
        : this(GatherWindow)
    {
    }

    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly Queue<ControlMessage> _held = [];
    private Func<IReadOnlyList<ControlMessage>, Task<bool>>? _send;

    // Posted and not yet taken by the writer, and whether a writer is on its way; under _gate.
    private readonly Lock _gate = new();
    private readonly List<(ControlMessage Message, bool Droppable)> _posted = [];
    private bool _writing;
    private bool _urgent;
    private TaskCompletionSource? _hurry;

    /// <summary>Sends <paramref name="message"/> at once on the control connection of the moment, with what was gathered, or keeps it for the next.</summary>
    public void Post(ControlMessage message) => Post(message, droppable: false, gather: false);

    /// <summary>Sends <paramref name="message"/> within <see cref="GatherWindow"/>, with others, or keeps it for the next connection: a record the session does not wait on.</summary>
    public void Gather(ControlMessage message) => Post(message, droppable: false, gather: true);

    /// <summary>Gathers <paramref name="message"/> if a control connection is up then and nothing waits for it; else drops it (a report that a later one makes good).</summary>
    public void GatherIfUp(ControlMessage message)
    {
        if (Volatile.Read(ref _send) is not null)
        {
            Post(message, droppable: true, gather: true);
        }
    }

    private void Post(ControlMessage message, bool droppable, bool gather)
    {
        lock (_gate)
        {
            _posted.Add((message, droppable));
            _urgent |= !gather || _posted.Count >= MaxGathered;
            if (_writing)
            {
                if (_urgent)
                {
                    _hurry?.TrySetResult();
                }
                return;
            }
            _writing = true;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static reports => _ = reports.WriteAsync(), this, preferLocal: false);
    }

    /// <summary>Waits out the gather window unless something urgent was posted (or comes meanwhile).</summary>
    private async Task GatherAsync()
    {
        Task hurry;
        lock (_gate)
        {
            if (_urgent || _posted.Count == 0)
            {
                return;
            }
            hurry = (_hurry = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        await Task.WhenAny(hurry, Task.Delay(gatherWindow));
    }

    /// <summary>Takes what was posted and sends it (or holds it), until nothing more was posted meanwhile.</summary>
    private async Task WriteAsync()
    {
        await _sending.WaitAsync(CancellationToken.None);
        try
        {
            while (true)
            {
                await GatherAsync();
                List<(ControlMessage Message, bool Droppable)> posted;
                lock (_gate)
                {
                    _hurry = null;
                    _urgent = false;
                    if (_posted.Count == 0)
                    {
                        _writing = false;
                        return;
                    }
                    posted = [.. _posted];
                    _posted.Clear();
                }
                bool sent;
                try
                {
                    sent = _held.Count == 0 && _send is { } send && await send([.. posted.Select(p => p.Message)]);
                }
                catch (ProtocolException)
                {
                    // A report that cannot be framed never can be: dropped, so it cannot stop the ones after it.
                    continue;
                }
                if (sent)
                {
                    continue;
                }
                foreach (var (message, droppable) in posted)
                {
                    if (!droppable)
                    {
                        Hold(message);
                    }
                }
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>A control connection is up: what waited goes on it first, then every report until <see cref="DetachAsync"/>.</summary>
    public async Task AttachAsync(Func<IReadOnlyList<ControlMessage>, Task<bool>> send)
    {
        await _sending.WaitAsync(CancellationToken.None);
        try
        {
            _send = send;
            if (_held.Count > 0 && await send([.. _held]))
            {
                // Else this connection died already, and the next one takes them.
                _held.Clear();
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>The control connection that <paramref name="send"/> writes to is gone: reports wait for the next.</summary>
    public async Task DetachAsync(Func<IReadOnlyList<ControlMessage>, Task<bool>> send)
    {
        await _sending.WaitAsync(CancellationToken.None);
        try
        {
            if (_send == send)
            {
                _send = null;
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    private void Hold(ControlMessage message)
    {
        if (_held.Count >= MaxHeld)
        {
            _held.Dequeue();
        }
        _held.Enqueue(message);
    }
}
