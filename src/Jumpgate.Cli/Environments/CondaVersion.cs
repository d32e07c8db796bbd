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
        var value = text.Trim().ToLowerInvariant().Replace('-', '_');
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
        var components = Split(main);
        if (components is null)
        {
            return false;
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

    /// <summary>Whether this version starts with <paramref name="prefix"/>'s components: 1.26.4 and 1.26 start with 1.26, 1.260 does not.</summary>
    public bool StartsWith(CondaVersion prefix)
    {
        if (prefix._version[0][0].CompareTo(_version[0][0]) != 0)
        {
            return false;
        }
        for (var i = 1; i < prefix._version.Count; i++)
        {
            var mine = i < _version.Count ? _version[i] : [Part.Zero];
            var theirs = prefix._version[i];
            for (var j = 0; j < theirs.Count; j++)
            {
                if ((j < mine.Count ? mine[j] : Part.Zero).CompareTo(theirs[j]) != 0)
                {
                    return false;
                }
            }
            // Only the last component may be a prefix of the version's (1.1a matches 1.1a1); the others are whole.
            if (i < prefix._version.Count - 1 && mine.Count > theirs.Count)
            {
                return false;
            }
        }
        return true;
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
