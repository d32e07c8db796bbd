namespace Jumpgate.Core.Naming;

/// <summary>
/// The hosts an admin lets an agent serve: comma-separated globs where <c>*</c> matches any run
/// of characters and <c>?</c> one character (<c>node*,lab-pc</c>).
/// </summary>
internal sealed record HostPatterns
{
    private HostPatterns(IReadOnlyList<string> patterns) => Patterns = patterns;

    public IReadOnlyList<string> Patterns { get; }

    public static HostPatterns Parse(string text)
    {
        var patterns = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (patterns.Length == 0)
        {
            throw new FormatException("give at least one host pattern, for example 'node*,lab-pc'");
        }
        foreach (var pattern in patterns)
        {
            if (!pattern.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '*' or '?'))
            {
                throw new FormatException($"host pattern '{pattern}' may only hold lower-case letters, digits, '-', '*' and '?'");
            }
        }
        return new HostPatterns(patterns);
    }

    public bool Allows(string host) => Patterns.Any(pattern => Glob(pattern, host));

    public override string ToString() => string.Join(",", Patterns);

    public bool Equals(HostPatterns? other) => other is not null && Patterns.SequenceEqual(other.Patterns);

    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);

    /// <summary>Iterative glob match with one backtrack point: linear in practice, never exponential.</summary>
    private static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}
