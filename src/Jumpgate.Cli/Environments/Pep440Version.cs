using System.Globalization;
using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// A Python package version ordered by PEP 440: epoch, release (trailing zeros do not count, so
/// <c>1.26.0 == 1.26</c>), then dev &lt; a &lt; b &lt; rc &lt; final &lt; post, then the local part
/// (<c>+cu121</c>), which sorts after no local part. Alternative spellings (<c>1.0-alpha.1</c>,
/// <c>1.0-1</c>, <c>1.0RC1</c>) are normalised as pip normalises them.
/// </summary>
internal sealed partial class Pep440Version : IComparable<Pep440Version>, IEquatable<Pep440Version>
{
    private Pep440Version(string text) => Text = text;

    public string Text { get; }

    public long Epoch { get; private init; }

    public IReadOnlyList<long> Release { get; private init; } = [];

    /// <summary>0 for a, 1 for b, 2 for rc, with its number; null for no pre-release.</summary>
    public (int Kind, long Number)? Pre { get; private init; }

    public long? Post { get; private init; }

    public long? Dev { get; private init; }

    /// <summary>The local part's segments, lower-case, or empty.</summary>
    public IReadOnlyList<string> Local { get; private init; } = [];

    public bool IsPreRelease => Pre is not null || Dev is not null;

    public static bool TryParse(string text, out Pep440Version version)
    {
        version = null!;
        var match = Syntax().Match(text);
        if (!match.Success)
        {
            return false;
        }
        static long Number(Group group) =>
            group.Success ? long.Parse(group.Value, NumberStyles.None, CultureInfo.InvariantCulture) : 0;
        (int, long)? pre = null;
        if (match.Groups["pre_l"].Success)
        {
            var kind = match.Groups["pre_l"].Value.ToLowerInvariant() switch
            {
                "a" or "alpha" => 0,
                "b" or "beta" => 1,
                _ => 2, // rc, c, pre, preview
            };
            pre = (kind, Number(match.Groups["pre_n"]));
        }
        long? post = match.Groups["post_n1"].Success ? Number(match.Groups["post_n1"])
            : match.Groups["post_l"].Success ? Number(match.Groups["post_n2"]) : null;
        version = new Pep440Version(text.Trim())
        {
            Epoch = Number(match.Groups["epoch"]),
            Release = match.Groups["release"].Value.Split('.').Select(p => long.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture)).ToList(),
            Pre = pre,
            Post = post,
            Dev = match.Groups["dev_l"].Success ? Number(match.Groups["dev_n"]) : null,
            Local = match.Groups["local"].Success ? match.Groups["local"].Value.ToLowerInvariant().Split('.', '-', '_') : [],
        };
        return true;
    }

    public static Pep440Version Parse(string text) =>
        TryParse(text, out var version) ? version : throw new FormatException($"{text} is not a PEP 440 version");

    /// <summary>The same version without its local part.</summary>
    public Pep440Version Public => Local.Count == 0 ? this : new Pep440Version(Text.Split('+')[0])
    {
        Epoch = Epoch, Release = Release, Pre = Pre, Post = Post, Dev = Dev,
    };

    public int CompareTo(Pep440Version? other)
    {
        if (other is null)
        {
            return 1;
        }
        var order = Epoch.CompareTo(other.Epoch);
        if (order != 0)
        {
            return order;
        }
        for (var i = 0; i < Math.Max(Release.Count, other.Release.Count); i++)
        {
            order = (i < Release.Count ? Release[i] : 0).CompareTo(i < other.Release.Count ? other.Release[i] : 0);
            if (order != 0)
            {
                return order;
            }
        }
        order = PreKey(this).CompareTo(PreKey(other));
        if (order != 0)
        {
            return order;
        }
        order = (Post ?? -1).CompareTo(other.Post ?? -1);
        if (order != 0)
        {
            return order;
        }
        order = (Dev ?? long.MaxValue).CompareTo(other.Dev ?? long.MaxValue);
        return order != 0 ? order : CompareLocal(Local, other.Local);
    }

    /// <summary>
    /// Where the pre-release puts the version: a bare dev release (1.0.dev1) before every
    /// pre-release of its release, a final or post release after them.
    /// </summary>
    private static (int, long) PreKey(Pep440Version v) => v.Pre switch
    {
        { } pre => pre,
        null when v.Dev is not null && v.Post is null => (-1, 0),
        _ => (int.MaxValue, 0),
    };

    /// <summary>No local part sorts first; numeric segments sort after words and by value.</summary>
    private static int CompareLocal(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            if (i >= a.Count)
            {
                return -1;
            }
            if (i >= b.Count)
            {
                return 1;
            }
            var aNumber = long.TryParse(a[i], NumberStyles.None, CultureInfo.InvariantCulture, out var x);
            var bNumber = long.TryParse(b[i], NumberStyles.None, CultureInfo.InvariantCulture, out var y);
            var order = (aNumber, bNumber) switch
            {
                (true, true) => x.CompareTo(y),
                (true, false) => 1,
                (false, true) => -1,
                _ => string.CompareOrdinal(a[i], b[i]),
            };
            if (order != 0)
            {
                return order;
            }
        }
        return 0;
    }

    public bool Equals(Pep440Version? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is Pep440Version other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Epoch, Release.Reverse().SkipWhile(r => r == 0).Count());

    public override string ToString() => Text;

    // PEP 440's own regular expression (its appendix), anchored.
    [GeneratedRegex("""
        ^\s*v?(?:(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\.[0-9]+)*)
        (?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?
        (?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?
        (?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?)
        (?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$
        """, RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex Syntax();
}
