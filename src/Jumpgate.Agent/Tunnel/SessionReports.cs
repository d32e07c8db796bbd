using Jumpgate.Core.Protocol;

namespace Jumpgate.Agent.Tunnel;

/// <summary>
/// How the reports of the direct sessions served for one gateway reach it: over whichever control
/// connection is up. A session's legs are connections of their own and outlive the registration
/// they began under, so its reports must not die with it: those made while no control connection
/// is up, or whose write failed, wait here (in order, a bounded number) for the next one, and go
/// first on it. The gateway takes them from the same agent over any of its connections.
/// </summary>
internal sealed class SessionReports
{
    /// <summary>Reports kept while no control connection is up; past this the oldest are dropped (the gateway closes what it never heard end when the session ends).</summary>
    private const int MaxHeld = 4096;

    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly Queue<ControlMessage> _held = [];
    private Func<ControlMessage, Task<bool>>? _send;

    /// <summary>Sends <paramref name="message"/> on the control connection of the moment, or keeps it for the next.</summary>
    public async Task SendAsync(ControlMessage message)
    {
        await _sending.WaitAsync(CancellationToken.None);
        try
        {
            if (_held.Count == 0 && _send is { } send && await send(message))
            {
                return;
            }
            Hold(message);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>Sends <paramref name="message"/> if a control connection is up and nothing waits for it; else drops it (a report that a later one makes good).</summary>
    public async Task SendIfUpAsync(ControlMessage message)
    {
        await _sending.WaitAsync(CancellationToken.None);
        try
        {
            if (_held.Count == 0 && _send is { } send)
            {
                await send(message);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>A control connection is up: what waited goes on it first, then every report until <see cref="Detach"/>.</summary>
    public async Task AttachAsync(Func<ControlMessage, Task<bool>> send)
    {
        await _sending.WaitAsync(CancellationToken.None);
        try
        {
            _send = send;
            while (_held.TryPeek(out var message))
            {
                if (!await send(message))
                {
                    // This connection died already; the next one takes them.
                    return;
                }
                _held.Dequeue();
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>The control connection that <paramref name="send"/> writes to is gone: reports wait for the next.</summary>
    public async Task DetachAsync(Func<ControlMessage, Task<bool>> send)
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
