using System.Diagnostics;

namespace Jumpgate.Cli.Fleet;

/// <summary>
/// One line per host (host, step, elapsed) on stderr. On a terminal the lines are redrawn in place a
/// few times a second; elsewhere (a pipe, a log) each change of step is printed once.
/// </summary>
internal sealed class ProgressBoard : IAsyncDisposable
{
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(200);

    private readonly TextWriter _output;
    private readonly bool _live;
    private readonly Lock _gate = new();
    private readonly List<string> _hosts;
    private readonly Dictionary<string, (string Step, long Started, TimeSpan? Took)> _rows = [];
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly int _width;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _redraw = Task.CompletedTask;
    private bool _drawn;

    public ProgressBoard(IReadOnlyList<string> hosts, TextWriter output, bool live)
    {
        _hosts = [.. hosts];
        _output = output;
        _live = live;
        _width = Math.Max(4, hosts.Max(h => h.Length));
        foreach (var host in hosts)
        {
            _rows[host] = ("waiting", _started, null);
        }
        if (_live)
        {
            _redraw = RedrawAsync(_stop.Token);
        }
    }

    public void Step(string host, string step) => Set(host, step, done: false);

    /// <summary>The host's last step: its elapsed time stops here.</summary>
    public void Done(string host, string outcome) => Set(host, outcome, done: true);

    private void Set(string host, string step, bool done)
    {
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            _rows[host] = (step, _rows[host].Started, done ? Stopwatch.GetElapsedTime(_started, now) : null);
            if (!_live)
            {
                _output.WriteLine($"{host.PadRight(_width)}  {step}  ({Stopwatch.GetElapsedTime(_started, now).TotalSeconds:0.0}s)");
            }
        }
    }

    private async Task RedrawAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(RedrawInterval);
        try
        {
            do
            {
                Draw();
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException)
        {
            // Stopped by DisposeAsync, which draws the final state.
        }
    }

    private void Draw()
    {
        lock (_gate)
        {
            if (_drawn)
            {
                _output.Write($"\e[{_hosts.Count}A");
            }
            foreach (var host in _hosts)
            {
                var (step, _, took) = _rows[host];
                var elapsed = took ?? Stopwatch.GetElapsedTime(_started);
                _output.Write($"\r\e[2K{host.PadRight(_width)}  {step,-40} {elapsed.TotalSeconds,5:0.0}s\n");
            }
            _output.Flush();
            _drawn = true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _redraw;
        if (_live)
        {
            Draw();
        }
        _stop.Dispose();
    }
}
