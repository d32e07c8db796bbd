using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// The in-process peers' logs, one line per event in the test's output (so a failure explains
/// itself), prefixed with the peer's name. The framework's own chatter is left out below warnings.
/// </summary>
internal sealed class TestLog(ITestOutputHelper output, string peer) : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>Every line written so far, in order.</summary>
    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName.StartsWith("Microsoft", StringComparison.Ordinal) ? LogLevel.Warning : LogLevel.Debug);

    /// <summary>A logger for code that takes one directly (the agent).</summary>
    public ILogger CreateLogger() => new Logger(this, LogLevel.Debug);

    private void Write(LogLevel level, string message)
    {
        _lines.Enqueue(message);
        try
        {
            output.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {peer} {level.ToString().ToLowerInvariant()[..4]}: {message}");
        }
        catch (InvalidOperationException)
        {
            // The test is over; a peer still stopping has nobody left to tell.
        }
    }

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
                log.Write(logLevel, formatter(state, exception) + (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})"));
            }
        }
    }
}
