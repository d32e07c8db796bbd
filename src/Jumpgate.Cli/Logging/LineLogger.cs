using Microsoft.Extensions.Logging;

namespace Jumpgate.Cli.Logging;

/// <summary>
/// One line per event on stderr: <c>12:01:02.345 info agent: connected to …</c>. Written
/// synchronously (stderr is unbuffered and thread-safe), with no category noise and no stack
/// traces for expected failures; stdout stays free for what scripts read.
/// </summary>
internal sealed class LineLoggerProvider(LogLevel minimum) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new LineLogger(Component(categoryName), Threshold(categoryName));

    public void Dispose()
    {
    }

    /// <summary>The framework's own chatter only when it matters.</summary>
    private LogLevel Threshold(string category) =>
        category.StartsWith("Microsoft", StringComparison.Ordinal) ? LogLevel.Warning : minimum;

    private static string Component(string category) =>
        category.StartsWith("Jumpgate.Agent", StringComparison.Ordinal) ? "agent"
        : category.StartsWith("Jumpgate.", StringComparison.Ordinal) ? "gateway"
        : category.Split('.')[^1];

    private sealed class LineLogger(string component, LogLevel threshold) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= threshold && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var level = logLevel switch
            {
                LogLevel.Trace => "trce",
                LogLevel.Debug => "dbug",
                LogLevel.Information => "info",
                LogLevel.Warning => "warn",
                LogLevel.Error => "fail",
                _ => "crit",
            };
            var detail = exception is not null && logLevel >= LogLevel.Error ? $" ({exception.GetType().Name}: {exception.Message})" : "";
            Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {level} {component}: {formatter(state, exception)}{detail}");
        }
    }
}

internal static class LoggingSetup
{
    public static void Configure(ILoggingBuilder logging, bool verbose)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        logging.AddProvider(new LineLoggerProvider(verbose ? LogLevel.Debug : LogLevel.Information));
    }

    public static ILoggerFactory CreateFactory(bool verbose) => LoggerFactory.Create(logging => Configure(logging, verbose));
}
