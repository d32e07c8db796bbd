using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Jumpgate.Cli.Logging;

/// <summary>One line per event: <c>12:01:02.345 info  agent: connected to …</c>. No category noise, no stack traces for expected failures.</summary>
internal sealed class CompactConsoleFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "jumpgate";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        var level = logEntry.LogLevel switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
        var component = logEntry.Category.StartsWith("Jumpgate.Agent", StringComparison.Ordinal) ? "agent"
            : logEntry.Category.StartsWith("Jumpgate.", StringComparison.Ordinal) ? "gateway"
            : logEntry.Category.Split('.')[^1];
        textWriter.Write($"{DateTime.Now:HH:mm:ss.fff} {level} {component}: {message}");
        if (logEntry.Exception is { } e && logEntry.LogLevel >= LogLevel.Error)
        {
            textWriter.Write($" ({e.GetType().Name}: {e.Message})");
        }
        textWriter.Write(Environment.NewLine);
    }
}

internal static class LoggingSetup
{
    /// <summary>Logs to stderr, leaving stdout to what scripts read.</summary>
    public static void Configure(ILoggingBuilder logging, bool verbose)
    {
        logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        logging.AddConsole(options =>
        {
            options.FormatterName = CompactConsoleFormatter.Name;
            options.LogToStandardErrorThreshold = LogLevel.Trace;
        });
        logging.AddConsoleFormatter<CompactConsoleFormatter, ConsoleFormatterOptions>();
    }

    public static ILoggerFactory CreateFactory(bool verbose) => LoggerFactory.Create(logging => Configure(logging, verbose));
}
