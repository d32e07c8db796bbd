namespace Jumpgate.Cli.Client;

/// <summary>An error meant for the person at the terminal: printed as one line, exit code 1, no stack trace.</summary>
internal sealed class CliException(string message) : Exception(message);
