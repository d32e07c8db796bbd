using System.Globalization;
using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// A version ordered as conda orders them (conda's <c>VersionOrder</c>): an optional epoch (<c>1!</c>),
/// components split at dots and underscores, each a run of numbers and words; a missing component counts
/// as 0, so <c>1.26.0 == 1.26</c>; a word sorts before any number (<c>1.1a1 &lt; 1.1</c>), <c>dev</c> before
/// any other word and <c>post</c> after everything; a local part (<c>+cuda</c>) is compared last.
/// </summary>
internal sealed partial class CondaVersion : IComparable<CondaVersion>, IEquatable<CondaVersion>
{
    private readonly IReadOnlyList<IReadOnlyList<Part>> _version;
    private readonly IReadOnlyList<IReadOnlyList<Part>> _local;

    private CondaVersion(string text, IReadOnlyList<IReadOnlyList<Part>> version, IReadOnlyList<IReadOnlyList<Part>> local)
    {
        Text = text;
        _version = version;
        _local = local;
    }

    public string Text { get; }

    public static bool TryParse(string text, out CondaVersion version)
    {
        version = null!;
        var value = text.Trim().ToLowerInvariant();
        // conda reads a dash as an underscore, but only in a version without underscores (1.0-1, not 1_0-1).
        if (value.Contains('-', StringComparison.Ordinal) && !value.Contains('_', StringComparison.Ordinal))
        {
            value = value.Replace('-', '_');
        }
        if (value.Length == 0 || !Allowed().IsMatch(value))
        {
            return false;
        }
        var epoch = 0L;
        var bang = value.IndexOf('!', StringComparison.Ordinal);
        if (bang >= 0)
        {
            if (!long.TryParse(value[..bang], NumberStyles.None, CultureInfo.InvariantCulture, out epoch))
            {
                return false;
            }
            value = value[(bang + 1)..];
        }
        var plus = value.IndexOf('+', StringComparison.Ordinal);
        var main = plus >= 0 ? value[..plus] : value;
        var local = plus >= 0 ? value[(plus + 1)..] : "";
        if (main.Length == 0 || (plus >= 0 && local.Length == 0) || main.Contains('!', StringComparison.Ordinal) || local.Contains('+', StringComparison.Ordinal))
        {
            return false;
        }
        // A trailing underscore is conda's mark for openssl-like versions: 1.0.1_ is a word "_" after the
        // last number, which sorts below the letters (1.0.1_ < 1.0.1a) where a plain 1.0.1 sorts above them.
        var openssl = main.EndsWith('_') && main.Length > 1;
        var components = Split(openssl ? main[..^1] : main);
        if (components is null)
        {
            return false;
        }
        if (openssl)
        {
            components[^1] = [.. components[^1], Part.Word("_")];
        }
        components.Insert(0, [Part.Number(epoch)]);
        var localComponents = local.Length == 0 ? [] : Split(local);
        if (localComponents is null)
        {
            return false;
        }
        version = new CondaVersion(text.Trim(), components, localComponents);
        return true;
    }

    public static CondaVersion Parse(string text) =>
        TryParse(text, out var version) ? version : throw new FormatException($"{text} is not a conda version");

    private static List<IReadOnlyList<Part>>? Split(string text)
    {
        var result = new List<IReadOnlyList<Part>>();
        foreach (var component in text.Split('.', '_'))
        {
            if (component.Length == 0)
            {
                return null;
            }
            var parts = new List<Part>();
            foreach (Match run in Runs().Matches(component))
            {
                parts.Add(char.IsAsciiDigit(run.Value[0])
                    ? Part.Number(long.TryParse(run.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue)
                    : Part.Word(run.Value));
            }
            // A component that starts with a word counts as 0 followed by it: 1.a1 is 1.0a1.
            if (parts.Count == 0 || parts[0].IsWord)
            {
                parts.Insert(0, Part.Number(0));
            }
            result.Add(parts);
        }
        return result;
    }

    public int CompareTo(CondaVersion? other)
    {
        if (other is null)
        {
            return 1;
        }
        var main = Compare(_version, other._version);
        return main != 0 ? main : Compare(_local, other._local);
    }

    private static int Compare(IReadOnlyList<IReadOnlyList<Part>> a, IReadOnlyList<IReadOnlyList<Part>> b)
    {
        for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            var x = i < a.Count ? a[i] : [];
            var y = i < b.Count ? b[i] : [];
            for (var j = 0; j < Math.Max(x.Count, y.Count); j++)
            {
                var order = (j < x.Count ? x[j] : Part.Zero).CompareTo(j < y.Count ? y[j] : Part.Zero);
                if (order != 0)
                {
                    return order;
                }
            }
        }
        return 0;
    }

    /// <summary>
    /// Whether this version starts with <paramref name="prefix"/> (conda's <c>=1.26</c> and <c>1.26.*</c>): every
    /// component but the prefix's last is equal, and the last one begins the version's (1.26.4 and 1.26 start with
    /// 1.26, 1.260 does not; 0.4.1p1 starts with 0.4.1p). A prefix with a local part needs the same public version.
    /// </summary>
    public bool StartsWith(CondaVersion prefix)
    {
        if (prefix._local.Count > 0)
        {
            return Compare(_version, prefix._version) == 0 && IsPrefix(_local, prefix._local);
        }
        return IsPrefix(_version, prefix._version);
    }

    private static bool IsPrefix(IReadOnlyList<IReadOnlyList<Part>> version, IReadOnlyList<IReadOnlyList<Part>> prefix)
    {
        var last = prefix.Count - 1;
        if (Compare(version.Take(last).ToList(), prefix.Take(last).ToList()) != 0)
        {
            return false;
        }
        IReadOnlyList<Part> mine = last < version.Count ? version[last] : [];
        var theirs = prefix[last];
        var end = theirs.Count - 1;
        if (Compare([mine.Take(end).ToList()], [theirs.Take(end).ToList()]) != 0)
        {
            return false;
        }
        var own = end < mine.Count ? mine[end] : Part.Zero;
        // A word at the end is a prefix of a word (1.1p of 1.1pr1); a number must be the same number.
        return theirs[end].IsWord && theirs[end].Text != "post"
            ? own.IsWord && own.Text!.StartsWith(theirs[end].Text!, StringComparison.Ordinal)
            : own.CompareTo(theirs[end]) == 0;
    }

    public bool Equals(CondaVersion? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is CondaVersion other && Equals(other);

    // Equal versions can be written differently (1.26, 1.26.0, 1.26_0); only a constant hash is consistent with that.
    public override int GetHashCode() => 0;

    public override string ToString() => Text;

    /// <summary>One run of a component: a number, or a word (dev lowest, post highest, the others alphabetically, all below numbers).</summary>
    internal readonly record struct Part(long Value, string? Text) : IComparable<Part>
    {
        public static readonly Part Zero = Number(0);

        public static Part Number(long value) => new(value, null);

        public static Part Word(string text) => new(0, text);

        public bool IsWord => Text is not null;

        private int Rank => Text switch
        {
            "dev" => 0,
            null => 2,
            "post" => 3,
            _ => 1,
        };

        public int CompareTo(Part other)
        {
            var rank = Rank.CompareTo(other.Rank);
            if (rank != 0)
            {
                return rank;
            }
            return Text is null ? Value.CompareTo(other.Value) : string.CompareOrdinal(Text, other.Text);
        }
    }

    [GeneratedRegex("^[a-z0-9_.+!]+$")]
    private static partial Regex Allowed();

    [GeneratedRegex("[0-9]+|[a-z]+")]
    private static partial Regex Runs();
}
