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
/// </summary>
internal sealed class SessionReports
{
    /// <summary>Reports kept while no control connection is up; past this the oldest are dropped (the gateway closes what it never heard end when the session ends).</summary>
    private const int MaxHeld = 4096;

    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly Queue<ControlMessage> _held = [];
    private Func<IReadOnlyList<ControlMessage>, Task<bool>>? _send;

    // Posted and not yet taken by the writer, and whether a writer is on its way; under _gate.
    private readonly Lock _gate = new();
    private readonly List<(ControlMessage Message, bool Droppable)> _posted = [];
    private bool _writing;

    /// <summary>Sends <paramref name="message"/> soon on the control connection of the moment, or keeps it for the next.</summary>
    public void Post(ControlMessage message) => Post(message, droppable: false);

    /// <summary>Sends <paramref name="message"/> soon if a control connection is up then and nothing waits for it; else drops it (a report that a later one makes good).</summary>
    public void PostIfUp(ControlMessage message)
    {
        if (Volatile.Read(ref _send) is not null)
        {
            Post(message, droppable: true);
        }
    }

    private void Post(ControlMessage message, bool droppable)
    {
        lock (_gate)
        {
            _posted.Add((message, droppable));
            if (_writing)
            {
                return;
            }
            _writing = true;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static reports => _ = reports.WriteAsync(), this, preferLocal: false);
    }

    /// <summary>Takes what was posted and sends it (or holds it), until nothing more was posted meanwhile.</summary>
    private async Task WriteAsync()
    {
        await _sending.WaitAsync(CancellationToken.None);
        try
        {
            while (true)
            {
                List<(ControlMessage Message, bool Droppable)> posted;
                lock (_gate)
                {
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
