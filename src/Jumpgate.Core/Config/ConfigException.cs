namespace Jumpgate.Core.Config;

/// <summary>One problem in a configuration file, with where it is.</summary>
internal sealed record ConfigError(string File, int Line, int Column, string Field, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Field}: {Message}";
}

/// <summary>A configuration file has problems; the message lists every one of them.</summary>
internal sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
