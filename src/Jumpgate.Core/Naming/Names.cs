namespace Jumpgate.Core.Naming;

/// <summary>
/// Host, service, agent and user names are single DNS labels, because an HTTP service is
/// served on <c>service--host.domain</c> and one wildcard certificate covers one label.
/// </summary>
internal static class Names
{
    public const int MaxLength = 63;

    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= MaxLength }
        && char.IsAsciiLetterOrDigit(name[0])
        && char.IsAsciiLetterOrDigit(name[^1])
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
        && !name.Contains("--", StringComparison.Ordinal);

    public const string Rule = "lower-case letters, digits and single dashes, starting and ending with a letter or digit, at most 63 characters";
}
