using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// A PEP 440 version specifier set (<c>&gt;=1.0,!=1.3.*,&lt;2</c>), checked against an installed version.
/// An installed pre-release counts when it fits: it is what the host runs, not a candidate to pick.
/// </summary>
internal sealed partial class PipSpecifier
{
    private readonly IReadOnlyList<Clause> _clauses;

    private PipSpecifier(string text, IReadOnlyList<Clause> clauses)
    {
        Text = text;
        _clauses = clauses;
    }

    public string Text { get; }

    private sealed record Clause(string Operator, string Raw, Pep440Version? Version, bool Wildcard);

    public static PipSpecifier? TryParse(string text, out string error)
    {
        error = "";
        var clauses = new List<Clause>();
        foreach (var raw in text.Split(','))
        {
            var match = ClauseSyntax().Match(raw.Trim());
            if (!match.Success)
            {
                error = $"'{raw.Trim()}' is not a version specifier (e.g. ==2.2.0, >=0.7.5, ~=1.4, !=1.3.*)";
                return null;
            }
            var op = match.Groups["op"].Value;
            var value = match.Groups["version"].Value;
            if (op == "===")
            {
                clauses.Add(new Clause(op, value, null, false));
                continue;
            }
            var wildcard = value.EndsWith(".*", StringComparison.Ordinal);
            if (wildcard && op is not ("==" or "!="))
            {
                error = $"'{raw.Trim()}': .* goes only with == or !=";
                return null;
            }
            if (!Pep440Version.TryParse(wildcard ? value[..^2] : value, out var version))
            {
                error = $"'{value}' is not a PEP 440 version";
                return null;
            }
            if (op == "~=" && version.Release.Count < 2)
            {
                error = $"'{raw.Trim()}': ~= needs at least two release numbers (~=1.4)";
                return null;
            }
            clauses.Add(new Clause(op, value, version, wildcard));
        }
        return new PipSpecifier(text, clauses);
    }

    public bool Matches(Pep440Version version) => _clauses.All(c => Matches(c, version));

    private static bool Matches(Clause clause, Pep440Version installed)
    {
        if (clause.Version is not { } wanted)
        {
            return string.Equals(clause.Raw, installed.Text, StringComparison.OrdinalIgnoreCase);
        }
        // A specifier without a local part ignores the installed version's (1.0 matches 1.0+cu121).
        var candidate = wanted.Local.Count == 0 ? installed.Public : installed;
        return clause.Operator switch
        {
            "==" => clause.Wildcard ? ReleaseStartsWith(candidate, wanted) : candidate.CompareTo(wanted) == 0,
            "!=" => clause.Wildcard ? !ReleaseStartsWith(candidate, wanted) : candidate.CompareTo(wanted) != 0,
            "<=" => candidate.CompareTo(wanted) <= 0,
            ">=" => candidate.CompareTo(wanted) >= 0,
            // <V excludes V's own pre-releases, >V its post-releases and local builds, unless V is one.
            "<" => candidate.CompareTo(wanted) < 0 && (wanted.IsPreRelease || !SameRelease(candidate, wanted) || !candidate.IsPreRelease),
            ">" => installed.CompareTo(wanted) > 0 && (wanted.Post is not null || !SameRelease(candidate, wanted) || (candidate.Post is null && installed.Local.Count == 0)),
            "~=" => candidate.CompareTo(wanted) >= 0 && ReleaseStartsWith(candidate, Prefix(wanted)),
            _ => false,
        };
    }

    private static bool SameRelease(Pep440Version a, Pep440Version b) =>
        a.Epoch == b.Epoch && Trimmed(a.Release).SequenceEqual(Trimmed(b.Release));

    private static IEnumerable<long> Trimmed(IReadOnlyList<long> release) => release.Reverse().SkipWhile(r => r == 0).Reverse();

    /// <summary>~=1.4.5 is >=1.4.5 and ==1.4.*.</summary>
    private static Pep440Version Prefix(Pep440Version v) => Pep440Version.Parse($"{v.Epoch}!{string.Join('.', v.Release.Take(v.Release.Count - 1))}");

    /// <summary>==1.26.* : the release padded with zeros starts with 1.26, and the prefix's own pre/post/dev parts match.</summary>
    private static bool ReleaseStartsWith(Pep440Version v, Pep440Version prefix)
    {
        if (v.Epoch != prefix.Epoch)
        {
            return false;
        }
        for (var i = 0; i < prefix.Release.Count; i++)
        {
            if ((i < v.Release.Count ? v.Release[i] : 0) != prefix.Release[i])
            {
                return false;
            }
        }
        return (prefix.Pre is null || prefix.Pre == v.Pre) && (prefix.Post is null || prefix.Post == v.Post) && (prefix.Dev is null || prefix.Dev == v.Dev);
    }

    public override string ToString() => Text;

    [GeneratedRegex(@"^(?<op>===|==|!=|<=|>=|~=|<|>)\s*(?<version>[A-Za-z0-9_.+!*-]+)$")]
    private static partial Regex ClauseSyntax();
}
