using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// A process a test started: its output is kept line by line and echoed to the test's log,
/// tests wait on lines it prints, and it is killed (by its own id) when disposed.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Signal)> _waiters = [];
    private readonly ITestOutputHelper? _output;
    private readonly string _name;
    private int _disposed;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Both stdout and stderr have ended (each reports end of stream as a null line).</summary>
    private readonly TaskCompletionSource _outputEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _streamsEnded;

    /// <summary>Every line, also kept for the suite-wide token leak check (null when no run is recorded).</summary>
    private StreamWriter? _log;

    /// <summary>Every process the tests started and have not yet stopped, killed when the test run exits whatever happened.</summary>
    private static readonly HashSet<Process> Running = [];

    static ChildProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Running)
            {
                foreach (var process in Running.Where(p => !p.HasExited))
                {
                    _ = kill(process.Id, SIGKILL);
                }
            }
        };
    }

    private ChildProcess(string name, ProcessStartInfo start, ITestOutputHelper? output)
    {
        _name = name;
        _output = output;
        _log = RunLog.Create(name);
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ = OnExitedAsync();
    }

    public int Id => _process.Id;

    public Task<int> Exited => _exited.Task;

    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, ITestOutputHelper? output,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var child = new ChildProcess(name, start, output);
        child._process.Start();
        lock (Running)
        {
            Running.Add(child._process);
        }
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public string Output => string.Join('\n', Lines);

    /// <summary>Waits until a line (already printed or still to come) matches <paramref name="pattern"/>.</summary>
    public async Task<Match> WaitForLineAsync(string pattern, TimeSpan timeout)
    {
        var regex = new Regex(pattern);
        var signal = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (var line in _lines)
            {
                if (regex.Match(line) is { Success: true } match)
                {
                    return match;
                }
            }
            _waiters.Add((regex, signal));
        }
        var finished = await Task.WhenAny(signal.Task, _exited.Task, Task.Delay(timeout));
        if (finished == signal.Task)
        {
            return await signal.Task;
        }
        // The line may have come together with the exit.
        lock (_gate)
        {
            _waiters.RemoveAll(w => w.Signal == signal);
            if (_lines.Select(l => regex.Match(l)).FirstOrDefault(m => m.Success) is { } late)
            {
                return late;
            }
        }
        var why = finished == _exited.Task ? $"exited with {_exited.Task.Result}" : $"printed nothing matching within {timeout.TotalSeconds:0.#} s";
        throw new TimeoutException($"{_name} {why}; waited for /{pattern}/. Its output:\n{Output}");
    }

    /// <summary>Sends a signal (SIGINT for Ctrl-C, SIGKILL for a crash) to this process only.</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited)
        {
            _ = kill(_process.Id, signal);
        }
    }

    /// <summary>The child's stdin, for a test that plays the program driving it (ssh driving its ProxyCommand).</summary>
    public StreamWriter Input => _process.StandardInput;

    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGSTOP = 19;
    public const int SIGCONT = 18;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>
    /// .NET may report the exit before the last lines are delivered, so a wait for a line printed
    /// just before exiting would miss it: the exit counts once the output has ended too (or after
    /// 2 s, should a grandchild hold the pipes open).
    /// </summary>
    private async Task OnExitedAsync()
    {
        var code = _process.ExitCode;
        await Task.WhenAny(_outputEnded.Task, Task.Delay(TimeSpan.FromSeconds(2)));
        _exited.TrySetResult(code);
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            if (Interlocked.Increment(ref _streamsEnded) == 2)
            {
                _outputEnded.TrySetResult();
            }
            return;
        }
        try
        {
            _output?.WriteLine($"[{_name}] {line}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished; its output helper no longer takes lines.
        }
        lock (_gate)
        {
            _log?.WriteLine(line);
            _lines.Add(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Pattern.Match(line) is { Success: true } match)
                {
                    _waiters[i].Signal.TrySetResult(match);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // A test may stop a process itself and its fixture dispose it again.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (!_process.HasExited)
        {
            Signal(SIGKILL);
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        lock (Running)
        {
            Running.Remove(_process);
        }
        _process.Dispose();
        lock (_gate)
        {
            // Lines that still trickle in after this are only kept in memory.
            _log?.Dispose();
            _log = null;
        }
    }
}

/// <summary>What a finished command printed.</summary>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

public static class Command
{
    /// <summary>Runs a command to completion (bounded by <paramref name="timeout"/>) and returns what it printed.</summary>
    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null, string? stdin = null, ITestOutputHelper? output = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }
        process.StandardInput.Close();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {timeout.TotalSeconds:0} s; stderr: {await stderr}");
        }
        var result = new CommandResult(process.ExitCode, await stdout, await stderr);
        RunLog.Command(fileName, start.ArgumentList, result);
        output?.WriteLine($"$ {Path.GetFileName(fileName)} {string.Join(' ', start.ArgumentList)}\n{result}");
        return result;
    }
}
