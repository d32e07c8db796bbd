using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// Where the in-process peers' logs go: the output of the test running now, which changes when a
/// class's tests share one gateway (they run one at a time), so each failure shows its own lines.
/// </summary>
internal sealed class TestOutput
{
    public ITestOutputHelper? Current { get; set; }

    /// <summary>Sees every line too, for a test that counts what the gateway logged.</summary>
    public Action<string>? Tap { get; set; }

    public void WriteLine(string line)
    {
        Tap?.Invoke(line);
        try
        {
            Current?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // That test is over; a peer still stopping has nobody left to tell.
        }
    }
}

/// <summary>One peer's log, a line per event prefixed with the peer's name; the framework's own chatter only from warnings up.</summary>
internal sealed class TestLog(TestOutput output, string peer) : ILoggerProvider
{
    private readonly TestOutput _output = output;
    private readonly string _peer = peer;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName.StartsWith("Microsoft", StringComparison.Ordinal) ? LogLevel.Warning : LogLevel.Debug);

    /// <summary>A logger for code that takes one directly (the agent).</summary>
    public ILogger CreateLogger() => new Logger(this, LogLevel.Debug);

    public void Dispose()
    {
    }

    private sealed class Logger(TestLog log, LogLevel threshold) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= threshold && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                var failure = exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})";
                log._output.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {log._peer} {logLevel.ToString().ToLowerInvariant()[..4]}: {formatter(state, exception)}{failure}");
            }
        }
    }
}
